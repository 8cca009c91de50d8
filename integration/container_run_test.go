package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// ctrWait bounds how long a detached container may take to reach a state.
const ctrWait = 20 * time.Second

// ctrState reads one field of a container's state through inspect.
func ctrState(t *testing.T, env *harness.Env, name, field string) string {
	t.Helper()
	return strings.TrimSpace(env.MustRun("inspect", "-f", "{{.State."+field+"}}", name))
}

// waitLog waits until the container's log holds want (its traps are set, say).
func waitLog(t *testing.T, env *harness.Env, name, want string) {
	t.Helper()
	if !harness.Eventually(ctrWait, func() bool { return strings.Contains(env.Run("logs", name).Stdout, want) }) {
		t.Fatalf("%s never logged %q", name, want)
	}
}

// ctrID returns the full ID of the container named name.
func ctrID(t *testing.T, env *harness.Env, name string) string {
	t.Helper()
	for _, line := range strings.Split(env.MustRun("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == name {
			return f[0]
		}
	}
	t.Fatalf("no container named %s", name)
	return ""
}

// procExited tells whether pid is gone or a zombie (the host's init may reap it late).
func procExited(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(data), ')')
	return i < 0 || i+2 >= len(data) || data[i+2] == 'Z' || data[i+2] == 'X'
}

// ctrStateFile reads state.json of container id straight from the store.
func ctrStateFile(t *testing.T, env *harness.Env, id string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Root, "containers", id, "state.json"))
	if err != nil {
		t.Fatalf("state.json of %s: %v", id, err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state.json of %s: %v", id, err)
	}
	return st
}

func TestContainerExitCodes(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"true", []string{"true"}, 0, ""},
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"not found", []string{"nosuchcommand"}, 127, `exec: "nosuchcommand": executable file not found in $PATH`},
		{"not executable", []string{"/etc/passwd"}, 126, "permission denied"},
	}
	for _, c := range cases {
		args := append([]string{"run", "--rm", "--network", "none", img}, c.args...)
		res := env.Run(args...)
		if res.Code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, res.Code, c.code, res)
		}
		if c.stderr != "" && !strings.Contains(res.Stderr, c.stderr) {
			t.Errorf("%s: stderr %q does not mention %q", c.name, res.Stderr, c.stderr)
		}
	}
	// berth's own failures are 125.
	if res := env.Run("run", "--no-such-flag", img, "true"); res.Code != 125 {
		t.Errorf("bad flag: exit %d, want 125\n%s", res.Code, res)
	}
	if res := env.Run("run", "--pull", "never", "nosuchimage:1", "true"); res.Code != 125 || !strings.Contains(res.Stderr, "No such image") {
		t.Errorf("missing image with --pull never: %s", res)
	}
	if res := env.Run("run", "--restart", "sometimes", img, "true"); res.Code != 125 || !strings.Contains(res.Stderr, "invalid restart policy") {
		t.Errorf("bad restart policy: %s", res)
	}
	// A start failure of run -d is reported by run itself, with the command's code.
	if res := env.Run("run", "-d", "--network", "none", img, "nosuchcommand"); res.Code != 127 {
		t.Errorf("run -d of a missing command: exit %d, want 127\n%s", res.Code, res)
	}
	if out := env.MustRun("ps", "-a", "-q", "--filter", "status=running"); strings.TrimSpace(out) != "" {
		t.Errorf("containers still running: %s", out)
	}
	env.CheckNoLeaks()
}

func TestContainerLogsAndStreams(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	// Foreground: stdout and stderr stay apart, and the log is there after the exit.
	res := env.Run("run", "--name", "fg", "--network", "none", img, "sh", "-c", "echo out1; echo err1 >&2; echo out2")
	if res.Code != 0 || res.Stdout != "out1\nout2\n" || res.Stderr != "err1\n" {
		t.Fatalf("foreground run: %s", res)
	}
	logs := env.Run("logs", "fg")
	if logs.Stdout != "out1\nout2\n" || logs.Stderr != "err1\n" {
		t.Errorf("logs after a foreground run: %s", logs)
	}
	// stdout and stderr are copied independently, so the last line is either stream's.
	if tail := env.Run("logs", "--tail", "1", "fg"); tail.Stdout+tail.Stderr != "out2\n" && tail.Stdout+tail.Stderr != "err1\n" {
		t.Errorf("logs --tail 1: %s", tail)
	}
	ts := env.MustRun("logs", "-t", "fg")
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out1$`).MatchString(ts) {
		t.Errorf("logs -t: %q", ts)
	}
	// The on-disk format is Docker's json-file.
	id := ctrID(t, env, "fg")
	data, err := os.ReadFile(filepath.Join(env.Root, "containers", id, id+"-json.log"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct{ Log, Stream, Time string }
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Time == "" {
			t.Errorf("json-file line %q: %v", line, err)
		}
		if e.Log == "out1\n" && e.Stream == "stdout" {
			found = true
		}
	}
	if !found {
		t.Errorf("json-file log lacks out1 on stdout:\n%s", data)
	}

	// Detached with -f: follow ends when the container exits.
	env.MustRun("run", "-d", "--name", "bg", "--network", "none", img, "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.3; done")
	follow := env.Start("logs", "-f", "bg")
	r := follow.Wait(ctrWait)
	if r.Code != 0 || r.Stdout != "tick 1\ntick 2\ntick 3\n" {
		t.Errorf("logs -f: %s", r)
	}
	env.CheckNoLeaks()
}

func TestContainerStdinAndAutoRemove(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	res := env.RunWithStdin(strings.NewReader("hello from stdin\n"), "run", "-i", "--rm", "--network", "none", img, "cat")
	if res.Code != 0 || res.Stdout != "hello from stdin\n" {
		t.Fatalf("run -i: %s", res)
	}
	if out := strings.TrimSpace(env.MustRun("ps", "-aq")); out != "" {
		t.Errorf("--rm left a container: %q", out)
	}
	// run -d --rm: removed once stopped.
	id := strings.TrimSpace(env.MustRun("run", "-d", "--rm", "--network", "none", img, "sleep", "100"))
	env.MustRun("kill", id)
	if !harness.Eventually(ctrWait, func() bool { return strings.TrimSpace(env.MustRun("ps", "-aq")) == "" }) {
		t.Errorf("run -d --rm: still listed after kill")
	}
	if res := env.Run("wait", id); res.Code != 0 || strings.TrimSpace(res.Stdout) != "137" {
		t.Errorf("wait on a removed --rm container: %s", res)
	}
	env.CheckNoLeaks()
}

func TestContainerStopKillWait(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	// sh as PID 1 ignores SIGTERM: stop waits -t seconds, then kills.
	env.MustRun("run", "-d", "--name", "stubborn", "--network", "none", img, "sh", "-c", "trap '' TERM; while true; do sleep 1; done")
	start := time.Now()
	env.MustRun("stop", "-t", "2", "stubborn")
	if d := time.Since(start); d < 2*time.Second || d > 10*time.Second {
		t.Errorf("stop -t 2 took %v", d)
	}
	if code := ctrState(t, env, "stubborn", "ExitCode"); code != "137" {
		t.Errorf("exit code after stop: %s", code)
	}
	// A process that handles SIGTERM stops at once, with its own code.
	env.MustRun("run", "-d", "--name", "polite", "--network", "none", img, "sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done")
	waitLog(t, env, "polite", "ready")
	start = time.Now()
	env.MustRun("stop", "polite")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop of a SIGTERM-handling container took %v", d)
	}
	// --stop-signal and kill -s.
	env.MustRun("run", "-d", "--name", "usr1", "--stop-signal", "USR1", "--network", "none", img, "sh", "-c", "trap 'exit 42' USR1; echo ready; while true; do sleep 0.1; done")
	waitLog(t, env, "usr1", "ready")
	env.MustRun("stop", "usr1")
	env.MustRun("run", "-d", "--name", "kk", "--network", "none", img, "sleep", "100")
	env.MustRun("kill", "-s", "TERM", "kk") // ignored by PID 1
	time.Sleep(200 * time.Millisecond)
	if st := ctrState(t, env, "kk", "Status"); st != "running" {
		t.Errorf("SIGTERM to sleep as PID 1 should be ignored, status %s", st)
	}
	w := env.Start("wait", "usr1", "kk")
	env.MustRun("kill", "kk")
	r := w.Wait(ctrWait)
	if r.Code != 0 || r.Stdout != "42\n137\n" {
		t.Errorf("wait: %s", r)
	}
	if res := env.Run("kill", "kk"); res.Code != 1 || !strings.Contains(res.Stderr, "is not running") {
		t.Errorf("kill of a stopped container: %s", res)
	}
	if res := env.Run("stop", "nosuch"); res.Code != 1 || !strings.Contains(res.Stderr, "No such container: nosuch") {
		t.Errorf("stop of an unknown container: %s", res)
	}
	// restart brings it back with a new process.
	env.MustRun("restart", "-t", "1", "kk")
	if st := ctrState(t, env, "kk", "Status"); st != "running" {
		t.Errorf("after restart: %s", st)
	}
	// rm refuses a running container in Docker's words; -f kills it.
	res := env.Run("rm", "kk")
	if res.Code != 1 || !strings.Contains(res.Stderr, `cannot remove container "/kk": container is running: stop the container before removing or force remove`) {
		t.Errorf("rm of a running container: %s", res)
	}
	env.MustRun("rm", "-f", "kk", "stubborn", "polite", "usr1")
	if out := strings.TrimSpace(env.MustRun("ps", "-aq")); out != "" {
		t.Errorf("containers left: %s", out)
	}
	env.CheckNoLeaks()
}

func TestContainerExec(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "ex", "-e", "FOO=bar", "-w", "/tmp", "--network", "none", img, "sleep", "100")
	if out := env.MustRun("exec", "ex", "sh", "-c", "echo $FOO $(pwd)"); out != "bar /tmp\n" {
		t.Errorf("exec env and workdir: %q", out)
	}
	if res := env.Run("exec", "ex", "sh", "-c", "exit 5"); res.Code != 5 {
		t.Errorf("exec exit code: %s", res)
	}
	if out := env.MustRun("exec", "-u", "nobody", "-e", "FOO=baz", "-w", "/", "ex", "sh", "-c", "id -u; echo $FOO; pwd"); out != "65534\nbaz\n/\n" {
		t.Errorf("exec -u -e -w: %q", out)
	}
	if res := env.RunWithStdin(strings.NewReader("piped\n"), "exec", "-i", "ex", "cat"); res.Stdout != "piped\n" {
		t.Errorf("exec -i: %s", res)
	}
	if res := env.Run("exec", "ex", "nosuchcommand"); res.Code != 127 {
		t.Errorf("exec of a missing command: %s", res)
	}
	env.MustRun("exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d")
	if !harness.Eventually(ctrWait, func() bool { return env.Run("exec", "ex", "cat", "/tmp/d").Stdout == "detached\n" }) {
		t.Error("exec -d did not run")
	}
	env.MustRun("stop", "-t", "0", "ex")
	res := env.Run("exec", "ex", "true")
	if res.Code == 0 || !strings.Contains(res.Stderr, "is not running") {
		t.Errorf("exec in a stopped container: %s", res)
	}
	env.CheckNoLeaks()
}

func TestContainerNamesAndParallelRuns(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	const n = 20
	results := env.RunParallel(n, func(int) []string { return []string{"run", "-d", "--network", "none", img, "sleep", "100"} })
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("parallel run %d: %s", i, r)
		}
	}
	names := strings.Fields(env.MustRun("ps", "--format", "{{.Names}}"))
	if len(names) != n {
		t.Fatalf("ps lists %d running containers, want %d: %v", len(names), n, names)
	}
	sort.Strings(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			t.Errorf("duplicate name %s", names[i])
		}
	}
	id := strings.TrimSpace(env.MustRun("create", "--name", "taken", img, "true"))
	res := env.Run("run", "--name", "taken", img, "true")
	want := fmt.Sprintf(`Conflict. The container name "/taken" is already in use by container "%s". You have to remove (or rename) that container to be able to reuse that name.`, id)
	if res.Code != 125 || !strings.Contains(res.Stderr, want) {
		t.Errorf("duplicate --name: %s", res)
	}
	// Prefix and name resolution.
	if out := env.MustRun("inspect", "-f", "{{.Name}}", id[:8]); strings.TrimSpace(out) != "/taken" {
		t.Errorf("inspect by ID prefix: %q", out)
	}
	env.MustRun("rm", "-f", "taken")
	env.MustRun(append([]string{"rm", "-f"}, strings.Fields(env.MustRun("ps", "-q"))...)...)
	env.CheckNoLeaks()
}

func TestContainerRestartPolicy(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "--network", "none", img, "sh", "-c", "echo run; exit 3")
	if !harness.Eventually(ctrWait, func() bool {
		return ctrState(t, env, "flaky", "Status") == "exited"
	}) {
		t.Fatalf("on-failure:2 never settled: %s", env.MustRun("ps", "-a"))
	}
	if rc := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.RestartCount}}", "flaky")); rc != "2" {
		t.Errorf("RestartCount %s, want 2", rc)
	}
	if logs := env.MustRun("logs", "flaky"); logs != "run\nrun\nrun\n" {
		t.Errorf("logs of three runs: %q", logs)
	}
	// always: comes back until stopped; stop is final.
	env.MustRun("run", "-d", "--name", "always", "--restart", "always", "--network", "none", img, "sh", "-c", "sleep 0.2; exit 1")
	if !harness.Eventually(ctrWait, func() bool {
		n, _ := strconv.Atoi(strings.TrimSpace(env.MustRun("inspect", "-f", "{{.RestartCount}}", "always")))
		return n >= 2
	}) {
		t.Fatal("restart always did not restart")
	}
	env.MustRun("stop", "-t", "1", "always")
	time.Sleep(500 * time.Millisecond)
	if st := ctrState(t, env, "always", "Status"); st != "exited" {
		t.Errorf("after stop of a restart-always container: %s", st)
	}
	env.MustRun("rm", "flaky", "always")
	env.CheckNoLeaks()
}

func TestContainerCrashRecovery(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	id := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sleep", "100"))
	st := ctrStateFile(t, env, id)
	monitor := int(st["MonitorPid"].(float64))
	initPid := int(st["Pid"].(float64))
	if monitor <= 0 || initPid <= 0 {
		t.Fatalf("state.json has no pids: %v", st)
	}
	if err := syscallKill(monitor); err != nil {
		t.Fatal(err)
	}
	// The init dies with its monitor (parent-death signal), before any berth command looks.
	if !harness.Eventually(5*time.Second, func() bool { return procExited(initPid) }) {
		t.Errorf("the container's process %d outlived its monitor until the next berth command", initPid)
	}
	out := env.MustRun("ps", "-a")
	if !strings.Contains(out, "Exited (255)") {
		t.Errorf("ps after the monitor died:\n%s", out)
	}
	if !harness.Eventually(ctrWait, func() bool { _, err := os.Stat(fmt.Sprintf("/proc/%d", initPid)); return err != nil }) {
		t.Errorf("the container's process %d survived its monitor", initPid)
	}
	if dirs := harness.CgroupDirs(id); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
	if _, err := os.Stat(filepath.Join(env.RunRoot, "runtime", id)); err == nil {
		t.Error("libcontainer state left behind")
	}
	// The container can start again.
	env.MustRun("start", id)
	if s := ctrState(t, env, id, "Status"); s != "running" {
		t.Errorf("restart after a crash: %s", s)
	}
	env.MustRun("rm", "-f", id)
	env.CheckNoLeaks()
}
