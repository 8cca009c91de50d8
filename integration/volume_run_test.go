package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/fixtures"
	"github.com/berth-project/berth/integration/harness"
	"github.com/docker/docker/api/types/container"
)

// volWaitShort bounds waits for a detached container to have done its first steps.
const volWaitShort = 20 * time.Second

// volContainerMounts returns the Mounts of a container's inspect output.
func volContainerMounts(t *testing.T, env *harness.Env, name string) []container.MountPoint {
	t.Helper()
	var mounts []container.MountPoint
	out := env.MustRun("inspect", "-f", "{{json .Mounts}}", name)
	if err := json.Unmarshal([]byte(out), &mounts); err != nil {
		t.Fatalf("inspect Mounts of %s: %v\n%s", name, err, out)
	}
	return mounts
}

// volCheckNoLeaks waits briefly for the monitors of --rm containers to finish their cleanup, then
// fails the test on leftover mounts or processes.
func volCheckNoLeaks(env *harness.Env) {
	env.T.Helper()
	harness.Eventually(10*time.Second, func() bool {
		return len(env.Mounts()) == 0 && len(env.LeftoverPIDs()) == 0
	})
	env.CheckNoLeaks()
}

func volNames(env *harness.Env) []string {
	return strings.Fields(env.MustRun("volume", "ls", "-q"))
}

// TestVolumeDataOutlivesContainer is the seeds' database exercise with busybox: data written into
// a named volume and into a host folder survives `rm -f` and is read back by a new container.
func TestVolumeDataOutlivesContainer(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	hostDir := filepath.Join(t.TempDir(), "created-by-berth")

	env.MustRun("run", "-d", "--name", "db1", "-v", "dbdata:/data", "-v", hostDir+":/host",
		img, "sh", "-c", "echo row1 > /data/db.txt; echo row2 > /host/db.txt; sleep 300")
	if !harness.Eventually(volWaitShort, func() bool {
		b, _ := os.ReadFile(filepath.Join(hostDir, "db.txt"))
		return string(b) == "row2\n"
	}) {
		t.Fatal("the container never wrote into the bind-mounted host folder")
	}

	mounts := volContainerMounts(t, env, "db1")
	byDest := map[string]container.MountPoint{}
	for _, m := range mounts {
		byDest[m.Destination] = m
	}
	vol := byDest["/data"]
	if vol.Type != "volume" || vol.Name != "dbdata" || vol.Driver != "local" || !vol.RW ||
		vol.Source != filepath.Join(env.Root, "volumes", "dbdata", "_data") {
		t.Errorf("inspect Mounts /data = %+v", vol)
	}
	bind := byDest["/host"]
	if bind.Type != "bind" || bind.Source != hostDir || !bind.RW || bind.Propagation != "rprivate" {
		t.Errorf("inspect Mounts /host = %+v", bind)
	}

	env.MustRun("rm", "-f", "db1")
	if got := volNames(env); len(got) != 1 || got[0] != "dbdata" {
		t.Errorf("volumes after rm -f: %v", got)
	}
	out := env.MustRun("run", "--rm", "-v", "dbdata:/data", "-v", hostDir+":/host", img, "cat", "/data/db.txt", "/host/db.txt")
	if out != "row1\nrow2\n" {
		t.Errorf("new container read %q, want row1 and row2", out)
	}
	volCheckNoLeaks(env)
}

// TestVolumeReadOnly checks that ro mounts of every kind refuse writes.
func TestVolumeReadOnly(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	hostDir := t.TempDir()
	for _, args := range [][]string{
		{"-v", "rovol:/data:ro"},
		{"-v", hostDir + ":/data:ro"},
		{"--mount", "type=bind,source=" + hostDir + ",target=/data,readonly"},
		{"--mount", "type=volume,source=rovol,target=/data,ro=true"},
	} {
		run := append(append([]string{"run", "--rm"}, args...), img, "touch", "/data/x")
		r := env.Run(run...)
		if r.Code == 0 || !strings.Contains(r.Stderr+r.Stdout, "Read-only file system") {
			t.Errorf("berth %v: %s\nwant a read-only failure", run, r)
		}
	}
	if _, err := os.Stat(filepath.Join(hostDir, "x")); !os.IsNotExist(err) {
		t.Errorf("a read-only bind was written to: %v", err)
	}
	// The same volume stays writable where it is mounted rw.
	env.MustRun("run", "--rm", "-v", "rovol:/data", img, "touch", "/data/x")
	volCheckNoLeaks(env)
}

// TestVolumeFromImageAndCopyUp covers an image VOLUME: an anonymous volume is created, seeded with
// the image's files (ownership kept), listed, and removed by rm -v; named volumes are not.
func TestVolumeFromImageAndCopyUp(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("layered")

	env.MustRun("create", "--name", "withvol", img)
	vols := volNames(env)
	if len(vols) != 1 || len(vols[0]) != 64 {
		t.Fatalf("create of an image with VOLUME /data made volumes %v, want one anonymous", vols)
	}
	mounts := volContainerMounts(t, env, "withvol")
	if len(mounts) != 1 || mounts[0].Destination != "/data" || mounts[0].Name != vols[0] || mounts[0].Type != "volume" {
		t.Errorf("inspect Mounts = %+v", mounts)
	}
	env.MustRun("start", "withvol")
	data := filepath.Join(env.Root, "volumes", vols[0], "_data")
	if !harness.Eventually(volWaitShort, func() bool {
		b, _ := os.ReadFile(filepath.Join(data, "seed.txt"))
		return string(b) == fixtures.LayeredSeed
	}) {
		t.Fatalf("the image's /data was not copied into the anonymous volume")
	}
	volCheckOwner(t, data, fixtures.AppUID)
	volCheckOwner(t, filepath.Join(data, "seed.txt"), fixtures.AppUID)
	env.Run("stop", "-t", "1", "withvol")
	env.MustRun("rm", "-v", "withvol")
	if vols := volNames(env); len(vols) != 0 {
		t.Errorf("rm -v left volumes %v", vols)
	}

	// A named volume over the same path is seeded too, seen inside with the image's owner, and
	// survives run --rm, which removes only anonymous volumes.
	out := env.MustRun("run", "--rm", "-v", "seeded:/data", "-v", "/anon", img, "stat", "-c", "%u %n", "/data/seed.txt")
	if out != fmt.Sprintf("%d /data/seed.txt\n", fixtures.AppUID) {
		t.Errorf("inside the container: %q", out)
	}
	if vols := volNames(env); len(vols) != 1 || vols[0] != "seeded" {
		t.Errorf("after run --rm: volumes %v, want only the named one", vols)
	}
	// nocopy leaves a new volume empty.
	out = env.MustRun("run", "--rm", "-v", "empty:/data:nocopy", img, "ls", "-A", "/data")
	if out != "" {
		t.Errorf("nocopy volume has %q", out)
	}
	volCheckNoLeaks(env)
}

func volCheckOwner(t *testing.T, p string, uid int) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	got := -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		got = int(st.Uid)
	}
	if got != uid {
		t.Errorf("%s owned by %d, want %d", p, got, uid)
	}
}

// TestVolumesFrom mounts every volume of another container, ro when asked.
func TestVolumesFrom(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("create", "--name", "store", "-v", "shared:/shared", "-v", "/anon", img, "true")
	env.MustRun("run", "--rm", "--volumes-from", "store", img, "sh", "-c", "echo hi > /shared/f; echo a > /anon/g")
	out := env.MustRun("run", "--rm", "--volumes-from", "store:ro", img, "cat", "/shared/f", "/anon/g")
	if out != "hi\na\n" {
		t.Errorf("volumes-from read %q", out)
	}
	r := env.Run("run", "--rm", "--volumes-from", "store:ro", img, "touch", "/shared/x")
	if r.Code == 0 {
		t.Errorf("--volumes-from :ro allowed a write: %s", r)
	}
	r = env.Run("run", "--rm", "--volumes-from", "nosuch", img, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Errorf("--volumes-from a missing container: %s", r)
	}
	env.MustRun("rm", "-v", "store")
	if vols := volNames(env); len(vols) != 1 || vols[0] != "shared" {
		t.Errorf("after rm -v: %v", vols)
	}
	volCheckNoLeaks(env)
}

// TestTmpfsMounts checks a tmpfs is sized and empty at every start.
func TestTmpfsMounts(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	script := "ls -A /scratch | wc -l; ls -A /m | wc -l; touch /scratch/x /m/y; df -k /scratch /m | tail -n 2 | awk '{print $2}'"
	env.MustRun("create", "--name", "tmp", "--tmpfs", "/scratch:size=2m", "--mount", "type=tmpfs,target=/m,tmpfs-size=3m", img, "sh", "-c", script)
	for i := 0; i < 2; i++ {
		out := env.MustRun("start", "-a", "tmp")
		if out != "0\n0\n2048\n3072\n" {
			t.Errorf("start %d printed %q, want empty tmpfs of 2048k and 3072k", i+1, out)
		}
	}
	// --volumes-from takes the --mount tmpfs with its size (not the --tmpfs one, as Docker), and
	// so does a container that takes it from that one.
	env.MustRun("create", "--name", "tmp2", "--volumes-from", "tmp", img, "true")
	out := env.MustRun("run", "--rm", "--volumes-from", "tmp2:ro", img, "sh", "-c", "df -k /m | tail -n 1 | awk '{print $2}'; test -e /scratch || echo no-scratch; touch /m/z || echo ro")
	if !strings.HasPrefix(out, "3072\nno-scratch\n") || !strings.HasSuffix(out, "ro\n") {
		t.Errorf("tmpfs through --volumes-from: %q, want 3072k, no /scratch, read-only", out)
	}
	env.MustRun("rm", "tmp", "tmp2")
	volCheckNoLeaks(env)
}

// TestVolumeCreateRacesPrune: `volume prune -a` running while containers are created never
// removes a volume a new container names (creation holds the volume lock until config.json is
// written).
func TestVolumeCreateRacesPrune(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				env.Run("volume", "prune", "-a", "-f")
			}
		}
	}()
	for i := 0; i < 12; i++ {
		env.MustRun("create", "--name", fmt.Sprintf("c%d", i), "-v", fmt.Sprintf("race%d:/data", i), "-v", "/anon", img, "true")
	}
	close(stop)
	<-done
	for i := 0; i < 12; i++ {
		for _, m := range volContainerMounts(t, env, fmt.Sprintf("c%d", i)) {
			if m.Type != "volume" {
				continue
			}
			if r := env.Run("volume", "inspect", m.Name); r.Code != 0 {
				t.Errorf("volume %s of c%d was pruned: %s", m.Name, i, r)
			}
		}
	}
	env.MustRun("start", "-a", "c0")
	volCheckNoLeaks(env)
}

// TestVolumeInUse checks that a used volume cannot be removed and prune keeps it.
func TestVolumeInUse(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	id := strings.TrimSpace(env.MustRun("create", "--name", "user", "-v", "inuse:/d", img, "true"))
	env.MustRun("volume", "create", "unused")
	env.MustRun("volume", "create")

	r := env.Run("volume", "rm", "inuse")
	want := "Error response from daemon: remove inuse: volume is in use - [" + id + "]"
	if r.Code != 1 || !strings.Contains(r.Stderr, want) {
		t.Errorf("volume rm of a used volume: %s\nwant %q", r, want)
	}
	if out := env.MustRun("volume", "ls", "-q", "--filter", "dangling=false"); out != "inuse\n" {
		t.Errorf("dangling=false = %q", out)
	}
	out := env.MustRun("volume", "prune", "-a", "-f")
	if strings.Contains(out, "inuse") || !strings.Contains(out, "unused") {
		t.Errorf("prune -a:\n%s", out)
	}
	if vols := volNames(env); len(vols) != 1 || vols[0] != "inuse" {
		t.Errorf("after prune: %v", vols)
	}
	env.MustRun("rm", "user")
	env.MustRun("volume", "rm", "inuse")
}

// TestBadMountSpecs checks bad specs fail with 125 before anything is created.
func TestBadMountSpecs(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-v", "/tmp:relative"}, "mount path must be absolute"},
		{[]string{"-v", "/tmp:/x:bogus"}, "invalid mode: bogus"},
		{[]string{"-v", "bad$name:/x"}, "includes invalid characters for a local volume name"},
		{[]string{"-v", "/tmp:/"}, "destination can't be '/'"},
		{[]string{"--mount", "type=bind,source=/definitely/missing,target=/x"}, `invalid mount config for type "bind": bind source path does not exist: /definitely/missing`},
		{[]string{"--mount", "type=bind,target=/x"}, "field Source must not be empty"},
		{[]string{"--mount", "type=volume,source=v1,target=/x,colour=red"}, "unexpected key 'colour'"},
		{[]string{"--tmpfs", "relative"}, "mount path must be absolute"},
		{[]string{"--volumes-from", "x:nocopy"}, "invalid mode: nocopy"},
	} {
		args := append(append([]string{"run", "--rm", "-v", "shouldnotexist:/ok"}, tc.args...), img, "true")
		r := env.Run(args...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("berth %v: %s\nwant exit 125 and %q", args, r, tc.want)
		}
	}
	if out := env.MustRun("ps", "-aq"); out != "" {
		t.Errorf("bad specs left containers: %q", out)
	}
	if vols := volNames(env); len(vols) != 0 {
		t.Errorf("bad specs left volumes: %v", vols)
	}
}

// TestMountThroughImageSymlink binds a host file onto a path that is a symlink in the image: it
// lands on the symlink's target inside the container.
func TestMountThroughImageSymlink(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("layered")
	hostFile := filepath.Join(t.TempDir(), "replacement")
	if err := os.WriteFile(hostFile, []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// /app/abslink -> /app/data.txt in the image.
	out := env.MustRun("run", "--rm", "-v", hostFile+":/app/abslink:ro", img, "cat", "/app/data.txt")
	if out != "from the host\n" {
		t.Errorf("bind through an image symlink: %q", out)
	}
	if _, err := os.Stat("/app/data.txt"); err == nil {
		t.Error("something appeared on the host's /app")
	}
	volCheckNoLeaks(env)
}

// TestLocalDriverVolumes uses the local driver's tmpfs and bind forms from containers.
func TestLocalDriverVolumes(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "tv")
	out := env.MustRun("run", "--rm", "-v", "tv:/t", img, "sh", "-c", "echo kept > /t/f; df -k /t | tail -n 1 | awk '{print $2}'")
	if out != "1024\n" {
		t.Errorf("tmpfs volume size: %q, want 1024", out)
	}
	env.MustRun("volume", "rm", "tv")

	dir := t.TempDir()
	env.MustRun("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+dir, "bv")
	env.MustRun("run", "--rm", "-v", "bv:/b", img, "sh", "-c", "echo via-volume > /b/f")
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "via-volume\n" {
		t.Errorf("bind volume did not write into its device folder: %q %v", b, err)
	}
	var vols []map[string]any
	if err := json.Unmarshal([]byte(env.MustRun("volume", "inspect", "bv")), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if opts, _ := vols[0]["Options"].(map[string]any); opts["device"] != dir || opts["o"] != "bind" || opts["type"] != "none" {
		t.Errorf("inspect Options = %v", vols[0]["Options"])
	}
	env.MustRun("volume", "rm", "bv")
	if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
		t.Errorf("volume rm deleted the bind device's files: %v", err)
	}
	volCheckNoLeaks(env)
}
