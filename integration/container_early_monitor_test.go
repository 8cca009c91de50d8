package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// cmdline is a process's arguments as the kernel shows them.
func cmdline(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// run starts its container's monitor with the CLI (cmd/berth/internal/earlymon) and hands it
// its store and container once it knows them; the monitor shows them on its command line like
// one the CLI starts itself (BERTH_NO_EARLY_MONITOR=1), and both run containers alike.
func TestContainerEarlyMonitor(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	for _, tc := range []struct {
		name  string
		off   string
		phase string // the CLI's trace mark for how it got its monitor
	}{
		{"early", "", "monitor adopted"},
		{"from Go", "1", "monitor exec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "trace")
			env.Setenv("BERTH_TRACE", trace)
			env.Setenv("BERTH_NO_EARLY_MONITOR", tc.off)
			id := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sleep", "100"))
			pid := monitorPid(t, env, id)
			want := []string{"berth", "__berth-monitor", env.Root, env.RunRoot, id}
			if got := cmdline(t, pid); !reflect.DeepEqual(got, want) {
				t.Errorf("monitor command line %q, want %q", got, want)
			}
			if marks, _ := os.ReadFile(trace); !bytes.Contains(marks, []byte(" "+tc.phase+"\n")) {
				t.Errorf("trace has no %q:\n%s", tc.phase, marks)
			}
			env.MustRun("rm", "-f", id)

			res := env.Run("run", "--rm", "--network", "none", img, "sh", "-c", "echo out; echo err >&2; exit 3")
			if res.Code != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" {
				t.Fatalf("foreground run: %s", res)
			}
		})
	}
	env.Setenv("BERTH_TRACE", "")
	env.CheckNoLeaks()
}

// A run that fails before it uses its early monitor (a bad flag, a missing image, --help)
// leaves no monitor behind: the monitor sees the CLI close its pipe and exits.
func TestContainerEarlyMonitorGoesAway(t *testing.T) {
	env := harness.New(t)
	marker := filepath.Join(t.TempDir(), "trace")
	env.Setenv("BERTH_TRACE", marker) // the early monitor's environment carries it
	if res := env.MustFail("run", "--no-such-flag", "x"); res.Code != 125 {
		t.Fatalf("bad flag: %s", res)
	}
	if res := env.MustFail("run", "--pull", "never", "--network", "none", "nosuchimage:1", "true"); res.Code != 125 {
		t.Fatalf("missing image: %s", res)
	}
	env.MustRun("container", "run", "--help")
	var left []int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		procs, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, p := range procs {
			env, err := os.ReadFile(p)
			if err != nil || !bytes.Contains(env, []byte("BERTH_TRACE="+marker+"\x00")) {
				continue
			}
			pid, _ := strconv.Atoi(strings.Split(p, "/")[2])
			left = append(left, pid)
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of failed runs still there: %v", left)
		}
	}
	env.CheckNoLeaks()
}
