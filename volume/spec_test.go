package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/docker/docker/api/types/mount"
)

func TestParseVolume(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Spec
		wantErr string
	}{
		{in: "/data", want: Spec{Type: mount.TypeVolume, Target: "/data"}},
		{in: "/host:/ctr", want: Spec{Type: mount.TypeBind, Source: "/host", Target: "/ctr", Propagation: "rprivate"}},
		{in: "/host/:/ctr/", want: Spec{Type: mount.TypeBind, Source: "/host", Target: "/ctr", Propagation: "rprivate"}},
		{in: "/host:/ctr:ro", want: Spec{Type: mount.TypeBind, Source: "/host", Target: "/ctr", Mode: "ro", ReadOnly: true, Propagation: "rprivate"}},
		{in: "/host:/ctr:rw,Z", want: Spec{Type: mount.TypeBind, Source: "/host", Target: "/ctr", Mode: "rw,Z", Propagation: "rprivate"}},
		{in: "/host:/ctr:ro,rshared", want: Spec{Type: mount.TypeBind, Source: "/host", Target: "/ctr", Mode: "ro,rshared", ReadOnly: true, Propagation: "rshared"}},
		{in: "mydata:/data", want: Spec{Type: mount.TypeVolume, Source: "mydata", Target: "/data"}},
		{in: "mydata:/data:ro,nocopy", want: Spec{Type: mount.TypeVolume, Source: "mydata", Target: "/data", Mode: "ro,nocopy", ReadOnly: true, NoCopy: true}},
		{in: "mydata:/data:z", want: Spec{Type: mount.TypeVolume, Source: "mydata", Target: "/data", Mode: "z"}},

		{in: "", wantErr: "invalid volume specification: ''"},
		{in: ":/data", wantErr: "invalid volume specification: ':/data'"},
		{in: "/a:/b:/c:ro", wantErr: "invalid volume specification: '/a:/b:/c:ro'"},
		{in: "/data:rw", wantErr: "invalid volume specification: '/data:rw'"},
		{in: "/host:/ctr:bogus", wantErr: "invalid mode: bogus"},
		{in: "/host:/ctr:ro,rw", wantErr: "invalid mode: ro,rw"},
		{in: "/host:relative", wantErr: "invalid volume specification: '/host:relative': invalid mount config for type \"bind\": invalid mount path: 'relative' mount path must be absolute"},
		{in: "relative", wantErr: "invalid mount path: 'relative' mount path must be absolute"},
		{in: "/host:/", wantErr: "destination can't be '/'"},
		{in: "/host:/ctr:nocopy", wantErr: "field VolumeOptions must not be specified"},
		{in: "vol:/ctr:rshared", wantErr: "field BindOptions must not be specified"},
	}
	for _, tt := range tests {
		got, err := ParseVolume(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseVolume(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ParseVolume(%q) error %v is not ErrInvalid", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseVolume(%q): %v", tt.in, err)
			continue
		}
		if *got != tt.want {
			t.Errorf("ParseVolume(%q) = %+v, want %+v", tt.in, *got, tt.want)
		}
	}
}

func TestValidateBindNames(t *testing.T) {
	t.Parallel()
	if err := ValidateBind("ok-name_1.2:/x"); err != nil {
		t.Errorf("valid name refused: %v", err)
	}
	for _, in := range []string{"x/y:/x", "a:/x", "bad$name:/x", "../x:/x", ".x:/x"} {
		err := ValidateBind(in)
		name := strings.SplitN(in, ":", 2)[0]
		if err == nil || !strings.HasPrefix(err.Error(), "create "+name+": ") || !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ValidateBind(%q) = %v, want a create error", in, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	good := []string{"ab", "my-vol", "v1.2_3", "A0", strings.Repeat("a", 64)}
	bad := []string{"", "a", ".hidden", "-dash", "_u", "a/b", "..", "../../etc", "a b", "vol:ume", "é"}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateName(n); err == nil {
			t.Errorf("ValidateName(%q) accepted", n)
		}
	}
}

func TestParseMountFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		in      string
		check   func(m mount.Mount) bool
		wantErr string
	}{
		{in: "type=bind,source=" + dir + ",target=/data,readonly", check: func(m mount.Mount) bool {
			return m.Type == mount.TypeBind && m.Source == dir && m.Target == "/data" && m.ReadOnly
		}},
		{in: "type=bind,src=" + dir + ",dst=/data,bind-propagation=rslave", check: func(m mount.Mount) bool {
			return m.BindOptions != nil && m.BindOptions.Propagation == mount.PropagationRSlave
		}},
		{in: "source=myvol,target=/data", check: func(m mount.Mount) bool {
			return m.Type == mount.TypeVolume && m.Source == "myvol"
		}},
		{in: "type=volume,target=/data,volume-nocopy,volume-label=a=b", check: func(m mount.Mount) bool {
			return m.Source == "" && m.VolumeOptions.NoCopy && m.VolumeOptions.Labels["a"] == "b"
		}},
		{in: "type=volume,source=v1,target=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs", check: func(m mount.Mount) bool {
			return m.VolumeOptions.DriverConfig.Options["type"] == "tmpfs"
		}},
		{in: "type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770", check: func(m mount.Mount) bool {
			return m.TmpfsOptions.SizeBytes == 64<<20 && uint32(m.TmpfsOptions.Mode) == 01770
		}},
		{in: "type=bind,source=/definitely/not/here,target=/x", wantErr: `invalid mount config for type "bind": bind source path does not exist: /definitely/not/here`},
		{in: "type=bind,target=/x", wantErr: `invalid mount config for type "bind": field Source must not be empty`},
		{in: "type=bind,source=" + dir, wantErr: "target is required"},
		{in: "type=volume,source=v,target=rel", wantErr: "invalid mount path: 'rel' mount path must be absolute"},
		{in: "type=volume,source=v,target=/", wantErr: "destination can't be '/'"},
		{in: "type=volume,source=bad/name,target=/x", wantErr: "includes invalid characters"},
		{in: "type=volume,target=/x,readonly", wantErr: "must not set ReadOnly mode when using anonymous volumes"},
		{in: "type=nfs,target=/x", wantErr: "mount type unknown"},
		{in: "type=bind,source=" + dir + ",target=/x,bogus=1", wantErr: "unexpected key 'bogus' in 'bogus=1'"},
		{in: "type=bind,source=" + dir + ",target=/x,bogus", wantErr: "invalid field 'bogus' must be a key=value pair"},
		{in: "type=tmpfs,target=/x,volume-nocopy", wantErr: "cannot mix 'volume-*' options with mount type 'tmpfs'"},
		{in: "type=volume,target=/x,tmpfs-size=1m", wantErr: "cannot mix 'tmpfs-*' options with mount type 'volume'"},
		{in: "type=volume,source=v,target=/x,bind-propagation=shared", wantErr: "cannot mix 'bind-*' options"},
		{in: "type=tmpfs,target=/x,tmpfs-size=lots", wantErr: "invalid value for tmpfs-size: lots"},
		{in: "type=tmpfs,target=/x,tmpfs-mode=999", wantErr: "invalid value for tmpfs-mode: 999"},
		{in: "type=bind,source=" + dir + ",target=/x,bind-propagation=weird", wantErr: "invalid propagation mode: weird"},
		{in: "type=tmpfs,source=foo,target=/x", wantErr: "field Source must not be specified"},
		{in: "type=volume,source=vv,target=/x,volume-driver=nfs", wantErr: "not supported"},
		{in: "type=volume,source=vv,target=/x,volume-opt=colour=red", wantErr: `invalid option: "colour"`},
		{in: "ro=maybe,target=/x", wantErr: "invalid value for ro: maybe"},
	}
	for _, tt := range tests {
		got, err := ParseMountFlag(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMountFlag(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMountFlag(%q): %v", tt.in, err)
			continue
		}
		if !tt.check(got) {
			t.Errorf("ParseMountFlag(%q) = %+v", tt.in, got)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, target, opts, wantErr string
	}{
		{in: "/run", target: "/run"},
		{in: "/run/:rw,noexec,nosuid,size=65536k", target: "/run", opts: "rw,noexec,nosuid,size=65536k"},
		{in: "/scratch:size=64m,mode=1777,uid=1000", target: "/scratch", opts: "size=64m,mode=1777,uid=1000"},
		{in: "run", wantErr: "mount path must be absolute"},
		{in: "/", wantErr: "destination can't be '/'"},
		{in: "/x:bogus", wantErr: `unknown option "bogus"`},
		{in: "/x:size=big", wantErr: `invalid size "big"`},
		{in: "/x:mode=9", wantErr: `invalid mode "9"`},
		{in: "/x:uid=root", wantErr: `invalid uid "root"`},
	}
	for _, tt := range tests {
		target, opts, err := ParseTmpfs(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTmpfs(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || target != tt.target || opts != tt.opts {
			t.Errorf("ParseTmpfs(%q) = %q, %q, %v; want %q, %q", tt.in, target, opts, err, tt.target, tt.opts)
		}
	}
}

func TestTmpfsMount(t *testing.T) {
	t.Parallel()
	flags, data, prop, copyUp, err := TmpfsMount("exec,size=64MB,mode=1777,rshared,tmpcopyup")
	if err != nil {
		t.Fatal(err)
	}
	const noexec, nosuid, nodev = 0x8, 0x2, 0x4
	if flags&noexec != 0 || flags&nosuid == 0 || flags&nodev == 0 {
		t.Errorf("flags = %#x, want nosuid,nodev without noexec", flags)
	}
	if data != "size=67108864,mode=1777" {
		t.Errorf("data = %q", data)
	}
	if prop != mount.PropagationRShared || !copyUp {
		t.Errorf("propagation %q copyUp %v", prop, copyUp)
	}
	if got := TmpfsOptionsString(&mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 01777}); got != "size=1048576,mode=1777" {
		t.Errorf("TmpfsOptionsString = %q", got)
	}
}

func TestParseVolumesFrom(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, ctr, mode, wantErr string }{
		{in: "data", ctr: "data", mode: "rw"},
		{in: "data:ro", ctr: "data", mode: "ro"},
		{in: "data:rw,z", ctr: "data", mode: "rw,z"},
		{in: "", wantErr: "cannot be an empty string"},
		{in: "data:rshared", wantErr: "invalid mode: rshared"},
		{in: "data:nocopy", wantErr: "invalid mode: nocopy"},
		{in: "data:bogus", wantErr: "invalid mode: bogus"},
	}
	for _, tt := range tests {
		ctr, mode, err := ParseVolumesFrom(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseVolumesFrom(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || ctr != tt.ctr || mode != tt.mode {
			t.Errorf("ParseVolumesFrom(%q) = %q %q %v", tt.in, ctr, mode, err)
		}
	}
}

func TestDriverOptions(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		opts    map[string]string
		wantErr string
	}{
		{map[string]string{"type": "tmpfs"}, `missing required option: "device"`},
		{map[string]string{"o": "size=1m"}, `missing required option: "device"`},
		{map[string]string{"device": "/x"}, `missing required option: "type"`},
		{map[string]string{"type": "none", "o": "bind", "device": "/"}, `"/" is not allowed`},
		{map[string]string{"type": "none", "o": "bind", "device": "rel"}, "must be an absolute path"},
		{map[string]string{"type": "none", "o": "bind", "device": filepath.Join(s.Root(), "volumes")}, "inside the berth store"},
		{map[string]string{"type": "none", "o": "bind", "device": s.Root()}, "inside the berth store"},
		{map[string]string{"size": "10G"}, "no quota support"},
	}
	for _, tt := range bad {
		_, _, err := s.Create(CreateOptions{Name: "v1", Options: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Create(%v) error = %v, want %q", tt.opts, err, tt.wantErr)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "volumes", "v1")); !os.IsNotExist(err) {
		t.Errorf("a refused volume left its folder behind: %v", err)
	}
	if _, _, err := s.Create(CreateOptions{Name: "v2", Options: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"}}); err != nil {
		t.Errorf("tmpfs volume refused: %v", err)
	}
}

func TestAbsBind(t *testing.T) {
	t.Parallel()
	wd, _ := os.Getwd()
	tests := map[string]string{
		"./data:/x":  filepath.Join(wd, "data") + ":/x",
		".:/x:ro":    wd + ":/x:ro",
		"../up:/x":   filepath.Join(filepath.Dir(wd), "up") + ":/x",
		"/abs:/x":    "/abs:/x",
		"name:/x":    "name:/x",
		"/only":      "/only",
		".hidden:/x": filepath.Join(wd, ".hidden") + ":/x",
	}
	for in, want := range tests {
		if got := AbsBind(in); got != want {
			t.Errorf("AbsBind(%q) = %q, want %q", in, got, want)
		}
	}
}
