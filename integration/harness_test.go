package integration

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/fixtures"
	"github.com/berth-project/berth/integration/harness"
	"golang.org/x/sys/unix"
)

// TestHarnessRegistry checks that the test registry is up and serves every fixture.
func TestHarnessRegistry(t *testing.T) {
	harness.RequireRoot(t)
	addr := harness.Registry(t)
	set, err := fixtures.Standard()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range set.Names() {
		repo, tag, _ := strings.Cut(n, ":")
		req, err := http.NewRequest(http.MethodHead, "http://"+addr+"/v2/"+repo+"/manifests/"+tag, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", strings.Join([]string{
			"application/vnd.docker.distribution.manifest.v2+json",
			"application/vnd.docker.distribution.manifest.list.v2+json",
			"application/vnd.oci.image.manifest.v1+json",
			"application/vnd.oci.image.index.v1+json",
		}, ", "))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("HEAD %s: %v", n, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD manifest %s: %s", n, resp.Status)
		}
		if resp.Header.Get("Docker-Content-Digest") == "" {
			t.Errorf("manifest %s: no Docker-Content-Digest", n)
		}
	}
}

// TestHarnessVersion checks that the binary runs in a harness environment and that the
// environment starts empty and leaves nothing behind.
func TestHarnessVersion(t *testing.T) {
	env := harness.New(t)
	out := env.MustRun("version")
	if !strings.Contains(out, "Version:") {
		t.Errorf("berth version printed no version:\n%s", out)
	}
	res := env.Run("no-such-command")
	if res.Code == 0 {
		t.Errorf("berth no-such-command exited 0: %s", res)
	}
	if got := env.Image("busybox"); got != harness.Registry(t)+"/busybox:latest" {
		t.Errorf("Image(busybox) = %q", got)
	}
	for _, d := range []string{env.Root, env.RunRoot} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s: not a directory: %v", d, err)
		}
	}
	env.CheckNoLeaks()
}

// TestHarnessBackground checks Start and StartPTY.
func TestHarnessBackground(t *testing.T) {
	env := harness.New(t)
	p := env.Start("version")
	if r := p.Wait(time.Minute); r.Code != 0 || !strings.Contains(r.Stdout, "Version:") {
		t.Errorf("Start(version): %s", r)
	}
	tty := env.StartPTY("version")
	if !tty.WaitOutput("Version:", time.Minute) {
		t.Errorf("StartPTY(version) showed %q", tty.Output())
	}
	if r := tty.Wait(time.Minute); r.Code != 0 {
		t.Errorf("StartPTY(version): %s", r)
	}
}

// TestHarnessCleanup checks that a test's leftovers (a process of its root, a mount under it)
// are gone once the test ends, even though the test did not clean up.
func TestHarnessCleanup(t *testing.T) {
	var root, runroot string
	var pid int
	t.Run("leaky", func(t *testing.T) {
		env := harness.New(t)
		root, runroot = env.Root, env.RunRoot
		cmd := exec.Command("/bin/sleep", "1000")
		cmd.Env = env.Environ() // like a monitor: BERTH_ROOT names this root
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid = cmd.Process.Pid
		go cmd.Wait()
		mnt := filepath.Join(env.RunRoot, "mnt")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(env.LeftoverPIDs(), pid) {
			t.Errorf("LeftoverPIDs %v lacks %d", env.LeftoverPIDs(), pid)
		}
		if got := env.Mounts(); len(got) != 1 || got[0] != mnt {
			t.Errorf("Mounts() = %v, want [%s]", got, mnt)
		}
	})
	if !harness.Eventually(5*time.Second, func() bool { return syscall.Kill(pid, 0) != nil }) {
		t.Errorf("process %d survived the cleanup", pid)
	}
	if mps, _ := harness.MountsUnder(root, runroot); len(mps) > 0 {
		t.Errorf("mounts survived the cleanup: %v", mps)
	}
	for _, d := range []string{root, runroot} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s survived the cleanup: %v", d, err)
		}
	}
}

// TestHarnessLeakHelpers checks the link and nft helpers against the host.
func TestHarnessLeakHelpers(t *testing.T) {
	harness.RequireRoot(t)
	if names := harness.LinkNames(t, "", "lo"); !slices.Contains(names, "lo") {
		t.Errorf("LinkNames(lo) = %v", names)
	}
	if _, err := harness.NftTables(); err != nil {
		t.Errorf("NftTables: %v", err)
	}
}
