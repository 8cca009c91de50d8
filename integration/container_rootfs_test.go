package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// rootfsOptions returns the superblock options of a container's rootfs mount, "" when it is not
// mounted.
func rootfsOptions(t *testing.T, env *harness.Env, id string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(env.Root, "containers", id, "merged")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == merged {
			return f[len(f)-1]
		}
	}
	return ""
}

func volatileOption(opts string) bool {
	return strings.Contains(","+opts+",", ",volatile,") || strings.Contains(","+opts+",", ",fsync=volatile,")
}

// A --rm container's writable layer goes with it, so its overlay is volatile (nothing is synced
// for it, not even at unmount); any other container's is a plain, durable one.
func TestContainerRootfsVolatileWithRm(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	rm := strings.TrimSpace(env.MustRun("run", "-d", "--rm", "--network", "none", img, "sleep", "100"))
	keep := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sleep", "100"))
	if opts := rootfsOptions(t, env, rm); !volatileOption(opts) {
		t.Errorf("--rm container's rootfs options %q, want volatile", opts)
	}
	if opts := rootfsOptions(t, env, keep); opts == "" || volatileOption(opts) {
		t.Errorf("container's rootfs options %q, want a plain overlay", opts)
	}
	// The volatile layer works as any: write, fsync (a no-op for it), read back.
	if out := env.MustRun("exec", rm, "sh", "-c", "echo data > /f && sync /f && cat /f"); out != "data\n" {
		t.Fatalf("write in the --rm container: %q", out)
	}
	env.MustRun("stop", "-t", "1", rm)
	if res := env.Run("inspect", rm); res.Code == 0 {
		t.Fatalf("--rm container still there after stop: %s", res)
	}
	if opts := rootfsOptions(t, env, rm); opts != "" {
		t.Fatalf("--rm container's rootfs still mounted: %s", opts)
	}
	env.MustRun("rm", "-f", keep)
	env.CheckNoLeaks()
}
