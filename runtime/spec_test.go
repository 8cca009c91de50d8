package runtime

import (
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	units "github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestTweakCapabilities(t *testing.T) {
	cases := []struct {
		name      string
		add, drop []string
		want      []string
		err       bool
	}{
		{"default", nil, nil, sorted(defaultCaps), false},
		{"drop all", nil, []string{"ALL"}, []string{}, false},
		{"drop all add one", []string{"net_admin"}, []string{"ALL"}, []string{"CAP_NET_ADMIN"}, false},
		{"drop one", nil, []string{"CAP_CHOWN", "mknod"}, without(sorted(defaultCaps), "CAP_CHOWN", "CAP_MKNOD"), false},
		{"unknown", []string{"FLY"}, nil, nil, true},
	}
	for _, c := range cases {
		got, err := TweakCapabilities(defaultCaps, c.add, c.drop, false)
		if c.err {
			if err == nil || !strings.Contains(err.Error(), "CAP_FLY") {
				t.Errorf("%s: err %v", c.name, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}
}

func sorted(in []string) []string {
	out := append([]string{}, in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func without(in []string, drop ...string) []string {
	var out []string
	for _, s := range in {
		keep := true
		for _, d := range drop {
			if s == d {
				keep = false
			}
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

func TestMergeImageConfig(t *testing.T) {
	img := &v1.Config{
		Env:        []string{"PATH=/usr/bin:/bin", "A=img"},
		Entrypoint: []string{"/entry"},
		Cmd:        []string{"serve"},
		WorkingDir: "/srv",
		User:       "app",
		StopSignal: "SIGQUIT",
		Labels:     map[string]string{"l": "img", "m": "img"},
		Volumes:    map[string]struct{}{"/data": {}},
	}
	cases := []struct {
		name          string
		cfg           container.Config
		entry, cmd    []string
		env           []string
		workdir, user string
	}{
		{"image defaults", container.Config{}, []string{"/entry"}, []string{"serve"}, []string{"PATH=/usr/bin:/bin", "A=img"}, "/srv", "app"},
		{"cmd replaces cmd only", container.Config{Cmd: []string{"x"}}, []string{"/entry"}, []string{"x"}, nil, "/srv", "app"},
		{"entrypoint drops image cmd", container.Config{Entrypoint: []string{"/other"}}, []string{"/other"}, nil, nil, "/srv", "app"},
		{"empty entrypoint", container.Config{Entrypoint: []string{""}, Cmd: []string{"ls"}}, nil, []string{"ls"}, nil, "/srv", "app"},
		{"env override", container.Config{Env: []string{"A=me", "B=new"}}, []string{"/entry"}, []string{"serve"}, []string{"PATH=/usr/bin:/bin", "A=me", "B=new"}, "/srv", "app"},
		{"user and workdir", container.Config{User: "0", WorkingDir: "/tmp/../x"}, []string{"/entry"}, []string{"serve"}, nil, "/x", "0"},
	}
	for _, c := range cases {
		cfg := c.cfg
		vols, err := mergeImageConfig(&cfg, img)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual([]string(cfg.Entrypoint), c.entry) || !reflect.DeepEqual([]string(cfg.Cmd), c.cmd) {
			t.Errorf("%s: entrypoint %q cmd %q", c.name, cfg.Entrypoint, cfg.Cmd)
		}
		if c.env != nil && !reflect.DeepEqual(cfg.Env, c.env) {
			t.Errorf("%s: env %q, want %q", c.name, cfg.Env, c.env)
		}
		if cfg.WorkingDir != c.workdir || cfg.User != c.user || cfg.StopSignal != "SIGQUIT" {
			t.Errorf("%s: workdir %q user %q stop %q", c.name, cfg.WorkingDir, cfg.User, cfg.StopSignal)
		}
		if _, ok := vols["/data"]; !ok {
			t.Errorf("%s: image volume lost: %v", c.name, vols)
		}
	}
	cfg := container.Config{WorkingDir: "relative"}
	if _, err := mergeImageConfig(&cfg, nil); err == nil {
		t.Error("a relative working directory was accepted")
	}
	cfg = container.Config{}
	mergeImageConfig(&cfg, nil)
	if len(cfg.Env) != 1 || !strings.HasPrefix(cfg.Env[0], "PATH=") {
		t.Errorf("no default PATH: %q", cfg.Env)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2", "C=3"}, []string{"B=x", "D=4", "C", "E"})
	want := []string{"A=1", "B=x", "D=4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func testRecord(hc *container.HostConfig) *Record {
	fillHostConfigDefaults(hc)
	return &Record{
		ID:         strings.Repeat("ab", 32),
		Path:       "sh",
		Args:       []string{"-c", "true"},
		Config:     &container.Config{Hostname: "abababababab", Env: []string{"PATH=/bin", "X=1"}},
		HostConfig: hc,
	}
}

func TestBuildSpecDefaults(t *testing.T) {
	rec := testRecord(&container.HostConfig{})
	spec, err := buildSpec(rec, specInput{Rootfs: "/r", Dir: "/d"})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Hostname != "abababababab" || spec.Linux.CgroupsPath != "/berth/"+rec.ID {
		t.Errorf("hostname %q cgroup %q", spec.Hostname, spec.Linux.CgroupsPath)
	}
	if len(spec.Process.Capabilities.Effective) != 14 || len(spec.Process.Capabilities.Bounding) != 14 {
		t.Errorf("caps: %v", spec.Process.Capabilities)
	}
	if spec.Linux.Seccomp == nil || spec.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Errorf("default seccomp profile missing")
	}
	if !reflect.DeepEqual(spec.Linux.MaskedPaths, defaultMaskedPaths) || !reflect.DeepEqual(spec.Linux.ReadonlyPaths, defaultReadonlyPaths) {
		t.Errorf("masked/readonly paths: %v %v", spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths)
	}
	ns := map[specs.LinuxNamespaceType]bool{}
	for _, n := range spec.Linux.Namespaces {
		ns[n.Type] = true
	}
	for _, want := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.NetworkNamespace} {
		if !ns[want] {
			t.Errorf("namespace %s missing", want)
		}
	}
	dests := map[string]specs.Mount{}
	for _, m := range spec.Mounts {
		dests[m.Destination] = m
	}
	for _, d := range []string{"/proc", "/dev", "/dev/pts", "/sys", "/dev/shm", "/dev/mqueue", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if _, ok := dests[d]; !ok {
			t.Errorf("mount %s missing", d)
		}
	}
	if !strings.Contains(strings.Join(dests["/dev/shm"].Options, ","), "size=67108864") {
		t.Errorf("/dev/shm options %v", dests["/dev/shm"].Options)
	}
	if dests["/etc/hosts"].Source != "/d/hosts" {
		t.Errorf("/etc/hosts from %s", dests["/etc/hosts"].Source)
	}
	env := strings.Join(spec.Process.Env, " ")
	if env != "PATH=/bin HOSTNAME=abababababab X=1" {
		t.Errorf("env %q", env)
	}
}

func TestBuildSpecOptions(t *testing.T) {
	yes := true
	pids := int64(20)
	hc := &container.HostConfig{
		CapDrop:     []string{"ALL"},
		CapAdd:      []string{"NET_ADMIN"},
		SecurityOpt: []string{"seccomp=unconfined", "no-new-privileges"},
		Init:        &yes,
		Resources: container.Resources{
			Memory: 32 << 20, NanoCPUs: 1500000000, CPUShares: 512, CpusetCpus: "0", PidsLimit: &pids,
			Ulimits: []*units.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}},
		},
		ShmSize:        8 << 20,
		ReadonlyRootfs: true,
	}
	rec := testRecord(hc)
	rec.Config.Tty = true
	spec, err := buildSpec(rec, specInput{Rootfs: "/r", Dir: "/d", InitBinary: "/usr/bin/berth", User: execUser{UID: 1000, GID: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(spec.Process.Capabilities.Bounding, []string{"CAP_NET_ADMIN"}) || len(spec.Process.Capabilities.Effective) != 0 {
		t.Errorf("caps for a non-root user: %+v", spec.Process.Capabilities)
	}
	if spec.Linux.Seccomp != nil || !spec.Process.NoNewPrivileges || !spec.Root.Readonly || !spec.Process.Terminal {
		t.Errorf("seccomp %v nnp %v ro %v tty %v", spec.Linux.Seccomp != nil, spec.Process.NoNewPrivileges, spec.Root.Readonly, spec.Process.Terminal)
	}
	if spec.Process.Args[0] != InitPath || spec.Process.Args[1] != "--" || spec.Process.Args[2] != "sh" {
		t.Errorf("--init args %q", spec.Process.Args)
	}
	r := spec.Linux.Resources
	if *r.Memory.Limit != 32<<20 || *r.CPU.Quota != 150000 || *r.CPU.Period != 100000 || *r.CPU.Shares != 512 || r.CPU.Cpus != "0" || *r.Pids.Limit != 20 {
		t.Errorf("resources %+v %+v %+v", r.Memory, r.CPU, r.Pids)
	}
	if !strings.Contains(strings.Join(spec.Process.Env, " "), "TERM=xterm") {
		t.Errorf("no TERM with a tty: %q", spec.Process.Env)
	}
	rl, err := rlimits(hc.Ulimits)
	if err != nil || len(rl) != 1 || rl[0].Type != unix.RLIMIT_NOFILE || rl[0].Soft != 100 || rl[0].Hard != 200 {
		t.Errorf("rlimits %+v %v", rl, err)
	}
}

func TestRlimitsCappedAtHostHard(t *testing.T) {
	if hasSysResource() {
		t.Skip("this process may raise hard limits")
	}
	var host unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &host)
	rl, err := rlimits([]*units.Ulimit{{Name: "nofile", Soft: int64(host.Max) + 1000, Hard: int64(host.Max) + 1000}})
	if err != nil || rl[0].Hard != host.Max || rl[0].Soft != host.Max {
		t.Errorf("rlimits %+v %v (host hard %d)", rl, err, host.Max)
	}
	if _, err := rlimits([]*units.Ulimit{{Name: "bogus", Soft: 1, Hard: 1}}); err == nil {
		t.Error("unknown ulimit accepted")
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"KILL": unix.SIGKILL, "sigterm": unix.SIGTERM, "9": unix.SIGKILL, "SIGUSR1": unix.SIGUSR1, "RTMIN+1": 35} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "NOPE", "0", "65"} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) accepted", bad)
		}
	}
}

func TestParseDetachKeys(t *testing.T) {
	got, err := ParseDetachKeys("")
	if err != nil || !reflect.DeepEqual(got, []byte{16, 17}) {
		t.Errorf("default: %v %v", got, err)
	}
	got, err = ParseDetachKeys("ctrl-a,x,ctrl-@")
	if err != nil || !reflect.DeepEqual(got, []byte{1, 'x', 0}) {
		t.Errorf("custom: %v %v", got, err)
	}
	if _, err := ParseDetachKeys("ctrl-1"); err == nil {
		t.Error("ctrl-1 accepted")
	}
}

func TestStartErrorCode(t *testing.T) {
	cases := map[string]int{
		`unable to start container process: exec: "foo": executable file not found in $PATH`: 127,
		`unable to start container process: exec: "/etc/passwd": permission denied`:          126,
		`unable to start container process: error during container init: bad thing`:          125,
	}
	for msg, want := range cases {
		if code, _ := startErrorCode(errString(msg)); code != want {
			t.Errorf("%q: %d, want %d", msg, code, want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
