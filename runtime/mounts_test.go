package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/volume"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

func testLayout(t *testing.T) Layout {
	t.Helper()
	dir := t.TempDir()
	l := Layout{Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run")}
	if err := os.MkdirAll(filepath.Join(l.Root, "containers"), 0o700); err != nil {
		t.Fatal(err)
	}
	return l
}

func mountByDest(rec *Record, dest string) *container.MountPoint {
	for i := range rec.Mounts {
		if rec.Mounts[i].Destination == dest {
			return &rec.Mounts[i]
		}
	}
	return nil
}

func saveRecord(t *testing.T, l Layout, rec *Record) {
	t.Helper()
	if err := os.MkdirAll(l.ContainerDir(rec.ID), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteJSON(l.ConfigPath(rec.ID), rec); err != nil {
		t.Fatal(err)
	}
}

func TestPlanMounts(t *testing.T) {
	t.Parallel()
	l := testLayout(t)
	hostDir := filepath.Join(t.TempDir(), "new", "host")
	existing := t.TempDir()
	rec := &Record{
		ID:     strings.Repeat("a", 64),
		Name:   "db",
		Config: &container.Config{Volumes: map[string]struct{}{"/anon": {}}},
		HostConfig: &container.HostConfig{
			Binds: []string{hostDir + ":/host:ro", "named:/named", "/image-vol"},
			Mounts: []mount.Mount{
				{Type: mount.TypeBind, Source: existing, Target: "/m-bind", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave}},
				{Type: mount.TypeTmpfs, Target: "/m-tmpfs", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}},
				{Type: mount.TypeVolume, Source: "mvol", Target: "/m-vol", VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{"k": "v"}}},
			},
			Tmpfs: map[string]string{"/run": "size=1m"},
		},
	}
	// /image-vol is both an image VOLUME and a user mount: the user's wins, no anonymous volume.
	imageVolumes := map[string]struct{}{"/var/lib/db": {}, "/m-vol": {}}
	unlock, err := planMounts(l, rec, imageVolumes)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if fi, err := os.Stat(hostDir); err != nil || !fi.IsDir() {
		t.Errorf("-v did not create the missing host folder: %v", err)
	}
	want := map[string]container.MountPoint{
		"/host":    {Type: mount.TypeBind, Source: hostDir, Destination: "/host", Mode: "ro", RW: false, Propagation: "rprivate"},
		"/m-bind":  {Type: mount.TypeBind, Source: existing, Destination: "/m-bind", RW: true, Propagation: "rslave"},
		"/m-tmpfs": {Type: mount.TypeTmpfs, Destination: "/m-tmpfs", RW: true},
	}
	for dest, w := range want {
		got := mountByDest(rec, dest)
		if got == nil || *got != w {
			t.Errorf("mount %s = %+v, want %+v", dest, got, w)
		}
	}
	named := mountByDest(rec, "/named")
	if named == nil || named.Type != mount.TypeVolume || named.Name != "named" || named.Mode != "z" ||
		named.Driver != "local" || named.Source != filepath.Join(l.Root, "volumes", "named", "_data") {
		t.Errorf("named volume mount = %+v", named)
	}
	for _, dest := range []string{"/anon", "/var/lib/db", "/image-vol"} {
		m := mountByDest(rec, dest)
		if m == nil || m.Type != mount.TypeVolume || len(m.Name) != 64 || !m.RW {
			t.Errorf("anonymous volume at %s = %+v", dest, m)
		}
	}
	if m := mountByDest(rec, "/m-vol"); m == nil || m.Name != "mvol" {
		t.Errorf("--mount volume = %+v", m)
	}
	if mountByDest(rec, "/run") != nil {
		t.Error("--tmpfs listed in Mounts (Docker keeps it in HostConfig.Tmpfs only)")
	}
	if _, ok := rec.Config.Volumes["/var/lib/db"]; !ok {
		t.Error("image VOLUME not merged into Config.Volumes")
	}
	store, _ := volume.Open(l.Root)
	if v, err := store.Get("mvol"); err != nil || v.Labels["k"] != "v" {
		t.Errorf("--mount volume-label not applied: %+v %v", v, err)
	}
	saveRecord(t, l, rec)
	os.MkdirAll(filepath.Dir(l.namePath("db")), 0o700)
	if err := os.Symlink(rec.ID, l.namePath("db")); err != nil {
		t.Fatal(err)
	}

	// --volumes-from takes every mount, ro when asked.
	rec2 := &Record{ID: strings.Repeat("b", 64), Config: &container.Config{},
		HostConfig: &container.HostConfig{VolumesFrom: []string{"db:ro"}}}
	if err := planAndUnlock(l, rec2, nil); err != nil {
		t.Fatal(err)
	}
	if len(rec2.Mounts) != len(rec.Mounts) {
		t.Errorf("volumes-from took %d mounts, want %d", len(rec2.Mounts), len(rec.Mounts))
	}
	for _, m := range rec2.Mounts {
		if m.RW {
			t.Errorf("volumes-from :ro left %s writable", m.Destination)
		}
	}
	saveRecord(t, l, rec2)

	// rm -v of the first container keeps the anonymous volumes the second still uses.
	if err := releaseMounts(l, rec, true); err != nil {
		t.Fatal(err)
	}
	anon := mountByDest(rec, "/anon").Name
	if _, err := store.Get(anon); err != nil {
		t.Errorf("anonymous volume in use elsewhere was removed: %v", err)
	}
	os.RemoveAll(l.ContainerDir(rec2.ID))
	if err := releaseMounts(l, rec, true); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(anon); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("anonymous volume survived rm -v: %v", err)
	}
	if _, err := store.Get("named"); err != nil {
		t.Errorf("named volume removed implicitly: %v", err)
	}
}

func TestPlanMountsErrorsLeaveNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hc      *container.HostConfig
		wantErr string
	}{
		{&container.HostConfig{Binds: []string{"v1:/a", "/tmp:/a"}}, "Duplicate mount point: /a"},
		{&container.HostConfig{Binds: []string{"v1:/a"}, VolumesFrom: []string{"nosuch"}}, "No such container: nosuch"},
		{&container.HostConfig{Binds: []string{"v1:/a"}, Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/no/such/dir", Target: "/b"}}},
			`invalid mount config for type "bind": bind source path does not exist: /no/such/dir`},
		{&container.HostConfig{Binds: []string{"v1:/a"}, Tmpfs: map[string]string{"/a": ""}}, "Duplicate mount point: /a"},
	}
	for _, tt := range tests {
		l := testLayout(t)
		rec := &Record{ID: strings.Repeat("c", 64), Config: &container.Config{Volumes: map[string]struct{}{"/x": {}}}, HostConfig: tt.hc}
		err := planAndUnlock(l, rec, nil)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("planMounts(%+v) = %v, want %q", tt.hc, err, tt.wantErr)
		}
		store, _ := volume.Open(l.Root)
		if vols, _ := store.List(); len(vols) != 0 {
			t.Errorf("planMounts(%+v) failed but left %d volumes", tt.hc, len(vols))
		}
	}
}

func TestSpecMounts(t *testing.T) {
	t.Parallel()
	l := testLayout(t)
	rootfs := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The image has /var/lib/db with content, and a symlink /link -> /etc (and one escaping).
	must(os.MkdirAll(filepath.Join(rootfs, "var/lib/db"), 0o750))
	must(os.WriteFile(filepath.Join(rootfs, "var/lib/db/seed"), []byte("from image"), 0o640))
	must(os.Chown(filepath.Join(rootfs, "var/lib/db"), 70, 70))
	must(os.MkdirAll(filepath.Join(rootfs, "nocopy"), 0o755))
	must(os.WriteFile(filepath.Join(rootfs, "nocopy/f"), nil, 0o644))
	must(os.Symlink("../../../../../../../../etc", filepath.Join(rootfs, "escape")))
	hostDir := t.TempDir()

	rec := &Record{
		ID:     strings.Repeat("d", 64),
		Config: &container.Config{},
		HostConfig: &container.HostConfig{
			Binds:  []string{hostDir + ":/escape/x:ro", "dbdata:/var/lib/db", "nc:/nocopy:nocopy"},
			Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 2 << 20, Mode: 0o1777}}},
			Tmpfs:  map[string]string{"/run": "size=1m,exec"},
		},
	}
	must(planAndUnlock(l, rec, nil))
	mounts, err := specMounts(l, rec, rootfs)
	if err != nil {
		t.Fatal(err)
	}
	byDest := map[string]int{}
	for i, m := range mounts {
		byDest[m.Destination] = i
	}
	// A bind aimed through a symlink lands inside the root (/etc/x), never on the host's /etc.
	bind, ok := byDest["/etc/x"]
	if !ok {
		t.Fatalf("bind through symlink not confined: %+v", mounts)
	}
	if m := mounts[bind]; m.Source != hostDir || m.Flags&unix.MS_RDONLY == 0 || m.Flags&unix.MS_BIND == 0 ||
		len(m.PropagationFlags) != 1 || m.PropagationFlags[0] != unix.MS_PRIVATE|unix.MS_REC {
		t.Errorf("ro bind = %+v", m)
	}
	data := filepath.Join(l.Root, "volumes", "dbdata", "_data")
	if m := mounts[byDest["/var/lib/db"]]; m.Source != data || m.Flags&unix.MS_RDONLY != 0 {
		t.Errorf("volume mount = %+v", m)
	}
	if b, err := os.ReadFile(filepath.Join(data, "seed")); err != nil || string(b) != "from image" {
		t.Errorf("copy-up: %q %v", b, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(data, &st); err != nil || (os.Geteuid() == 0 && st.Uid != 70) || st.Mode&0o777 != 0o750 {
		t.Errorf("copy-up did not keep the folder's owner/mode: uid %d mode %o %v", st.Uid, st.Mode&0o777, err)
	}
	if ok, _ := volume.IsEmptyDir(filepath.Join(l.Root, "volumes", "nc", "_data")); !ok {
		t.Error("nocopy volume got the image's files")
	}
	if m := mounts[byDest["/scratch"]]; m.Device != "tmpfs" || m.Data != "size=2097152,mode=1777" || m.Flags&unix.MS_NOEXEC == 0 {
		t.Errorf("--mount tmpfs = %+v", m)
	}
	if m := mounts[byDest["/run"]]; m.Device != "tmpfs" || m.Data != "size=1m" || m.Flags&unix.MS_NOEXEC != 0 || m.Flags&unix.MS_NOSUID == 0 {
		t.Errorf("--tmpfs = %+v", m)
	}
	// A second start does not copy again into a volume the user emptied and refilled.
	must(os.Remove(filepath.Join(data, "seed")))
	must(os.WriteFile(filepath.Join(data, "mine"), nil, 0o644))
	if _, err := specMounts(l, rec, rootfs); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "seed")); !os.IsNotExist(err) {
		t.Error("copy-up into a non-empty volume")
	}

	// --volumes-from keeps a tmpfs mount's options, through a chain of containers (--tmpfs
	// mounts are not taken: Docker lists them in HostConfig.Tmpfs only).
	saveRecord(t, l, rec)
	prev := rec.ID
	for i, id := range []string{strings.Repeat("e", 64), strings.Repeat("f", 64)} {
		from := &Record{ID: id, Config: &container.Config{}, HostConfig: &container.HostConfig{VolumesFrom: []string{prev + ":ro"}}}
		must(planAndUnlock(l, from, nil))
		saveRecord(t, l, from)
		got, err := specMounts(l, from, rootfs)
		if err != nil {
			t.Fatal(err)
		}
		var scratch *configs.Mount
		for _, m := range got {
			if m.Destination == "/scratch" {
				scratch = m
			}
			if m.Destination == "/run" {
				t.Errorf("volumes-from (step %d) took the --tmpfs mount", i)
			}
		}
		if scratch == nil || scratch.Data != "size=2097152,mode=1777" || scratch.Flags&unix.MS_RDONLY == 0 {
			t.Errorf("tmpfs through volumes-from (step %d) = %+v", i, scratch)
		}
		prev = id
	}
}

func TestContainerPathConfined(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.Symlink("/", filepath.Join(root, "toroot"))
	os.Symlink("/usr/../../..", filepath.Join(root, "up"))
	for in, want := range map[string]string{"/data": "/data", "/up/etc": "/etc", "/toroot/x": "/x"} {
		got, err := containerPath(root, in)
		if err != nil || got != want {
			t.Errorf("containerPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := containerPath(root, "/toroot"); err == nil {
		t.Error("a destination resolving to the container's root was accepted")
	}
}

// planAndUnlock is planMounts followed by the unlock its caller does once config.json is written.
func planAndUnlock(l Layout, rec *Record, imageVolumes map[string]struct{}) error {
	unlock, err := planMounts(l, rec, imageVolumes)
	if err == nil {
		unlock()
	}
	return err
}
