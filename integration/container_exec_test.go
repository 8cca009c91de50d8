package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// exec finds its container by name, full ID and unique ID prefix, and names a missing one as it
// was asked for, as Docker's daemon does; execs run side by side each get their own streams and
// exit code.
func TestContainerExecResolveAndParallel(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "exr", "--network", "none", img, "sleep", "100")
	id := ctrID(t, env, "exr")
	for _, ref := range []string{"exr", "/exr", id, id[:12]} {
		if out := env.MustRun("exec", ref, "hostname"); strings.TrimSpace(out) != id[:12] {
			t.Errorf("exec %s hostname: %q, want %q", ref, out, id[:12])
		}
	}
	if res := env.Run("exec", "nosuch", "true"); res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: No such container: nosuch" {
		t.Errorf("exec into a missing container: %s", res)
	}
	const n = 8
	results := env.RunParallel(n, func(i int) []string {
		return []string{"exec", "exr", "sh", "-c", fmt.Sprintf("echo out%d; echo err%d >&2; exit %d", i, i, i+1)}
	})
	for i, res := range results {
		if res.Code != i+1 || res.Stdout != fmt.Sprintf("out%d\n", i) || res.Stderr != fmt.Sprintf("err%d\n", i) {
			t.Errorf("parallel exec %d: %s", i, res)
		}
	}
	env.MustRun("rm", "-f", "exr")
	env.CheckNoLeaks()
}
