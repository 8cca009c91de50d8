package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// monitorPid reads the monitor's PID from the container's state.json.
func monitorPid(t *testing.T, env *harness.Env, id string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Root, "containers", id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ MonitorPid int }
	if err := json.Unmarshal(data, &st); err != nil || st.MonitorPid == 0 {
		t.Fatalf("state.json of %s: %v %s", id, err, data)
	}
	return st.MonitorPid
}

// procField returns the value of key ("Rss:", "THP_enabled:") in /proc/PID/file, "" when absent.
func procField(t *testing.T, pid int, file, key string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rssKB is a process's resident set in kB.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSuffix(procField(t, pid, "smaps_rollup", "Rss:"), " kB"))
	if err != nil {
		t.Fatalf("no Rss for %d", pid)
	}
	return n
}

// With the runroot on a tmpfs (/run on most hosts) an idle monitor maps berth's code from a
// shared copy there, page by page, and its resident set shrinks from the ~15 MB that starting
// the container touched to a few megabytes; the monitor still does its job afterwards.
func TestContainerMonitorShrinksOnTmpfsRunRoot(t *testing.T) {
	env := harness.New(t)
	env.MountTmpfsRunRoot()
	img := env.Pull("busybox")
	id := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sleep", "100"))
	pid := monitorPid(t, env, id)
	rss := rssKB(t, pid)
	for deadline := time.Now().Add(5 * time.Second); rss > 8*1024 && time.Now().Before(deadline); rss = rssKB(t, pid) {
		time.Sleep(50 * time.Millisecond)
	}
	if rss > 8*1024 {
		t.Fatalf("idle monitor RSS %d kB, want < 8 MB", rss)
	}
	copies, _ := filepath.Glob(filepath.Join(env.RunRoot, "exe", "berth-*"))
	if len(copies) != 1 {
		t.Fatalf("shared copies of berth in the runroot: %v, want 1", copies)
	}
	// A second container shares the copy; both monitors still work: exec, logs, stop, exit code.
	id2 := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sh", "-c", "echo up; sleep 100"))
	if again, _ := filepath.Glob(filepath.Join(env.RunRoot, "exe", "berth-*")); len(again) != 1 {
		t.Fatalf("after a second container: %v", again)
	}
	time.Sleep(300 * time.Millisecond) // past the second monitor's shrink too
	if out := env.MustRun("exec", id, "echo", "exec-ok"); strings.TrimSpace(out) != "exec-ok" {
		t.Fatalf("exec: %q", out)
	}
	env.MustRun("stop", "-t", "1", id)
	if out := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id)); out != "exited 137" {
		t.Fatalf("after stop: %q", out)
	}
	if out := strings.TrimSpace(env.MustRun("logs", id2)); out != "up" {
		t.Fatalf("logs: %q", out)
	}
	env.MustRun("rm", "-f", id, id2)
	env.CheckNoLeaks()
}

// thpEnabled reads THP_enabled from a process's status ("" when the kernel does not say).
func thpEnabled(t *testing.T, pid int) string {
	t.Helper()
	return procField(t, pid, "status", "THP_enabled:")
}

// A monitor runs without transparent huge pages (on hosts where every anonymous mapping gets
// them, they kept its start-up heap resident); the container's processes, the init's and an
// exec's, keep the host's policy.
func TestContainerMonitorWithoutHugePages(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	id := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sleep", "100"))
	mon := monitorPid(t, env, id)
	pid, err := strconv.Atoi(strings.TrimSpace(env.MustRun("inspect", "-f", "{{.State.Pid}}", id)))
	if err != nil {
		t.Fatal(err)
	}
	if thpEnabled(t, mon) == "" {
		t.Skip("this kernel does not show THP_enabled")
	}
	if got := thpEnabled(t, mon); got != "0" {
		t.Errorf("monitor THP_enabled %q, want 0", got)
	}
	if got := thpEnabled(t, pid); got != "1" {
		t.Errorf("container's init THP_enabled %q, want 1", got)
	}
	if out := env.MustRun("exec", id, "grep", "THP_enabled", "/proc/self/status"); !strings.HasSuffix(strings.TrimSpace(out), "1") {
		t.Errorf("exec'd process: %q, want THP_enabled 1", out)
	}
	env.MustRun("rm", "-f", id)
	env.CheckNoLeaks()
}
