package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// start: -a/-i attach to the container, several names report each failure, and -a refuses
// several containers, in docker/cli's words.
func TestContainerStartAttachAndErrors(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("create", "-i", "--name", "cat", "--network", "none", img, "sh", "-c", "cat; echo done; exit 3")
	res := env.RunWithStdin(strings.NewReader("piped\n"), "start", "-ai", "cat")
	if res.Code != 3 || res.Stdout != "piped\ndone\n" {
		t.Errorf("start -ai: %s", res)
	}
	env.MustRun("create", "--name", "quick", "--network", "none", img, "sh", "-c", "echo out; echo err >&2")
	if res := env.Run("start", "-a", "quick"); res.Code != 0 || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Errorf("start -a: %s", res)
	}
	res = env.Run("start", "quick", "nosuch")
	if res.Code != 1 || res.Stdout != "quick\n" ||
		res.Stderr != "Error response from daemon: No such container: nosuch\nError: failed to start containers: nosuch\n" {
		t.Errorf("start quick nosuch: %s", res)
	}
	if res := env.Run("start", "-a", "quick", "cat"); res.Code != 1 || res.Stderr != "you cannot start and attach multiple containers at once\n" {
		t.Errorf("start -a with two containers: %s", res)
	}
	env.MustRun("rm", "cat", "quick")
	env.CheckNoLeaks()
}

// attach: --sig-proxy forwards the CLI's signals to the container (default), --sig-proxy=false
// leaves the container alone, --no-stdin does not feed it.
func TestContainerAttachSignals(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "-i", "--name", "trap", "--network", "none", img, "sh", "-c",
		"trap 'echo got TERM; exit 5' TERM; echo ready; while true; do sleep 0.1; done")
	waitLog(t, env, "trap", "ready")
	// Without proxying, the signal ends the CLI only.
	a := env.Start("attach", "--sig-proxy=false", "trap")
	time.Sleep(500 * time.Millisecond)
	a.Signal(syscall.SIGTERM)
	a.Wait(ctrWait)
	time.Sleep(300 * time.Millisecond)
	if st := ctrState(t, env, "trap", "Status"); st != "running" {
		t.Fatalf("attach --sig-proxy=false passed the signal on: %s", st)
	}
	a = env.Start("attach", "--no-stdin", "trap")
	time.Sleep(500 * time.Millisecond)
	a.Signal(syscall.SIGTERM)
	r := a.Wait(ctrWait)
	if r.Code != 5 || !strings.Contains(r.Stdout, "got TERM") {
		t.Errorf("attach --no-stdin with the default --sig-proxy: %s", r)
	}
	env.MustRun("rm", "trap")
	env.CheckNoLeaks()
}

// --detach-keys on run -it and attach: the custom sequence detaches, the default one does not.
func TestContainerCustomDetachKeys(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	p := env.StartPTY("run", "-it", "--detach-keys", "ctrl-x,x", "--name", "dk", "--network", "none", img, "sh")
	if !p.WaitOutput("# ", ctrWait) {
		t.Fatalf("no prompt: %q", p.Output())
	}
	p.Write("\x18x") // Ctrl-X x
	if r := p.Wait(ctrWait); r.Code != 0 {
		t.Errorf("detach with ctrl-x,x: %s", r)
	}
	if st := ctrState(t, env, "dk", "Status"); st != "running" {
		t.Fatalf("container after detach: %s", st)
	}
	a := env.StartPTY("attach", "--detach-keys", "ctrl-a", "dk")
	time.Sleep(300 * time.Millisecond)
	a.Write("echo attached-$((2+3))\r")
	if !a.WaitOutput("attached-5", ctrWait) {
		t.Fatalf("attach: %q", a.Output())
	}
	a.Write("\x01") // Ctrl-A
	if r := a.Wait(ctrWait); r.Code != 0 {
		t.Errorf("detach with ctrl-a: %s", r)
	}
	if st := ctrState(t, env, "dk", "Status"); st != "running" {
		t.Errorf("container after the second detach: %s", st)
	}
	env.MustRun("rm", "-f", "dk")
	env.CheckNoLeaks()
}

// logs --since/--until select by time (RFC 3339, Unix seconds, durations).
func TestContainerLogsSinceUntil(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "--name", "lg", "--network", "none", img, "sh", "-c", "echo early; sleep 2; echo late")
	if out := env.MustRun("logs", "--since", "1s", "lg"); out != "late\n" {
		t.Errorf("logs --since 1s: %q", out)
	}
	if out := env.MustRun("logs", "--until", "1s", "lg"); out != "early\n" {
		t.Errorf("logs --until 1s: %q", out)
	}
	if out := env.MustRun("logs", "--since", "10m", "lg"); out != "early\nlate\n" {
		t.Errorf("logs --since 10m: %q", out)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if out := env.MustRun("logs", "--since", future, "lg"); out != "" {
		t.Errorf("logs --since %s: %q", future, out)
	}
	env.MustRun("rm", "lg")
	env.CheckNoLeaks()
}

// --cidfile, --env-file, -l, --stop-timeout, rm -v.
func TestContainerCreateFlags(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	dir := t.TempDir()
	cid := filepath.Join(dir, "cid")
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# comment\nA=1\nC=x y\nFROMHOST\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env.Setenv("FROMHOST", "host-value")
	out := env.MustRun("run", "--cidfile", cid, "--env-file", envFile, "-l", "tier=web", "--name", "flags",
		"--network", "none", img, "sh", "-c", `echo "$A|$C|$FROMHOST"`)
	if out != "1|x y|host-value\n" {
		t.Errorf("--env-file: %q", out)
	}
	data, err := os.ReadFile(cid)
	if id := ctrID(t, env, "flags"); err != nil || string(data) != id {
		t.Errorf("--cidfile holds %q (%v), want %s", data, err, id)
	}
	if res := env.Run("run", "--cidfile", cid, "--network", "none", img, "true"); res.Code != 125 || !strings.Contains(res.Stderr, "Container ID file found, make sure the other container isn't running or delete "+cid) {
		t.Errorf("--cidfile of an existing file: %s", res)
	}
	if got := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.Config.Labels.tier}}", "flags")); got != "web" {
		t.Errorf("label: %q", got)
	}
	// --stop-timeout replaces stop's default 10 s.
	env.MustRun("run", "-d", "--name", "slow", "--stop-timeout", "1", "--network", "none", img, "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done")
	start := time.Now()
	env.MustRun("stop", "slow")
	if d := time.Since(start); d < time.Second || d > 6*time.Second {
		t.Errorf("stop with --stop-timeout 1 took %v", d)
	}
	// rm -v removes the container's anonymous volumes.
	env.MustRun("create", "--name", "vol", "-v", "/data", "--network", "none", img, "true")
	if vols := strings.Fields(env.MustRun("volume", "ls", "-q")); len(vols) != 1 {
		t.Fatalf("anonymous volume: %v", vols)
	}
	env.MustRun("rm", "-v", "vol")
	if vols := strings.TrimSpace(env.MustRun("volume", "ls", "-q")); vols != "" {
		t.Errorf("rm -v left volumes: %s", vols)
	}
	env.MustRun("rm", "flags", "slow")
	env.CheckNoLeaks()
}

// run in the foreground forwards the CLI's signals to the container's process (the ID that
// start reported), and exits with the container's code.
func TestContainerRunSignalProxy(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	p := env.Start("run", "--rm", "--name", "sp", "--network", "none", img, "sh", "-c",
		"trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Stdout(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("no ready line: %q %q", p.Stdout(), p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Signal(syscall.SIGTERM)
	r := p.Wait(ctrWait)
	if r.Code != 7 || !strings.Contains(r.Stdout, "got TERM") {
		t.Fatalf("run with the default --sig-proxy: %s", r)
	}
	env.CheckNoLeaks()
}
