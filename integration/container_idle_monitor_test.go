package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// waitIdle waits until container id's monitor runs the idle loop and returns its PID.
func waitIdle(t *testing.T, env *harness.Env, id string) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if pid := monitorPid(t, env, id); pid > 0 {
			if args := cmdline(t, pid); len(args) > 1 && args[1] == "__berth-idle" {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitor of %s never went idle", id)
		}
	}
}

// logFields returns the raw JSON of each "log" field of a container's json log, by stream.
func logFields(t *testing.T, env *harness.Env, id string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Root, "containers", id, id+"-json.log"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		s := string(l)
		i, j := strings.Index(s, `{"log":`), strings.Index(s, `,"stream":"`)
		k := strings.Index(s, `","time":"`)
		if i != 0 || j < 0 || k < j || !strings.HasSuffix(s, `Z"}`) {
			t.Fatalf("log line %q", s)
		}
		out[s[j+len(`,"stream":"`):k]] = append(out[s[j+len(`,"stream":"`):k]], s[len(`{"log":`):j])
	}
	return out
}

// A detached container without stdin, terminal or published ports is looked after by the idle
// loop in C once it has run for a moment: ~1 MB instead of ~4 MB. Its log (byte for byte the
// Go monitor's encoding), attach, stop and the exit code work as before.
func TestContainerIdleMonitor(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	// The same awkward line twice: once written by the Go monitor, once by the idle loop.
	line := `printf 'q" b\\ <a>&\001\t\x80\xe2\x80\xa8 \xc3\xa9 end\n'`
	id := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sh", "-c",
		line+"; echo err-a >&2; sleep 1; "+line+"; echo err-b >&2; i=0; while true; do echo n$i; i=$((i+1)); sleep 0.05; done"))
	mon := waitIdle(t, env, id)
	if rss := rssKB(t, mon); rss > 3*1024 {
		t.Errorf("idle monitor RSS %d kB, want <= 3 MB", rss)
	}
	time.Sleep(1500 * time.Millisecond)
	logs := logFields(t, env, id)
	out := logs["stdout"]
	if len(out) < 4 || out[0] != out[1] || !strings.HasPrefix(out[0], `"q\" b\\ \u003ca\u003e\u0026\u0001\t\ufffd\u2028 é end\n"`) {
		t.Fatalf("stdout log fields: %q", out[:min(len(out), 4)])
	}
	if e := logs["stderr"]; len(e) != 2 || e[0] != `"err-a\n"` || e[1] != `"err-b\n"` {
		t.Errorf("stderr log fields: %q", e)
	}
	// The counter's lines are all there, in order, once each.
	for i, f := range out[2:] {
		if want := `"n` + strconv.Itoa(i) + `\n"`; f != want {
			t.Fatalf("line %d of the counter is %s, want %s", i, f, want)
		}
	}
	// attach gets the live output from the idle loop.
	a := env.Start("attach", "--sig-proxy=false", id)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(a.Stdout(), "\nn"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("attach got nothing: %q %q", a.Stdout(), a.Stderr())
		}
	}
	env.MustRun("stop", "-t", "1", id)
	if r := a.Wait(ctrWait); r.Code != 137 {
		t.Errorf("attach after stop: %s", r)
	}
	if st := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id)); st != "exited 137" {
		t.Errorf("after stop: %s", st)
	}
	env.MustRun("rm", id)
	env.CheckNoLeaks()
}

// The restart policy and --rm apply to exits seen by the idle loop: it hands the exit back to
// the Go monitor, which restarts or removes the container.
func TestContainerIdleMonitorRestartAndRm(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	id := strings.TrimSpace(env.MustRun("run", "-d", "--restart", "on-failure:2", "--network", "none", img,
		"sh", "-c", "echo run; sleep 0.6; exit 3"))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", id))
		if st == "exited 3 2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after two restarts: %s", st)
		}
	}
	if out := env.MustRun("logs", id); out != "run\nrun\nrun\n" {
		t.Errorf("logs of three runs: %q", out)
	}
	env.MustRun("rm", id)

	// --rm through the idle loop: the Go monitor it hands back to removes the container. A few
	// at once: the hand-back once lost the removal to a race with its own attach listener.
	var rms []string
	for i := 0; i < 4; i++ {
		rms = append(rms, strings.TrimSpace(env.MustRun("run", "-d", "--rm", "--network", "none", img, "sh", "-c", "sleep 0.8; exit 4")))
	}
	for _, rm := range rms {
		waitIdle(t, env, rm)
	}
	for _, rm := range rms {
		for deadline := time.Now().Add(10 * time.Second); env.Run("inspect", rm).Code == 0; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("--rm container %s still there", rm)
			}
		}
	}
	env.CheckNoLeaks()
}

// The idle loop holds a container's published ports and serves their IPv6 side (a proxy, as the
// Go monitor does): the port stays taken, and answers on ::1 and 127.0.0.1.
func TestContainerIdleMonitorPorts(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	// A fixed host port, so that the restart below binds it again over the TIME_WAIT that the
	// proxied connections leave.
	free, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(env.MustRun(append([]string{"run", "-d", "-p", strconv.Itoa(free) + ":80", img}, httpdCmd("idle")...)...))
	waitIdle(t, env, id)
	port := strings.TrimSpace(env.MustRun("inspect", "-f", `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`, id))
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		for i := 0; i < 3; i++ { // several connections through the idle loop's proxy
			netWaitGet(t, "http://"+host+":"+port+"/", "idle\n")
		}
	}
	r := env.Run(append([]string{"run", "-d", "-p", port + ":80", img}, httpdCmd("no")...)...)
	if r.Code != 125 || !strings.Contains(r.Stderr, "port is already allocated") {
		t.Errorf("a second container on port %s: %s", port, r)
	}
	// Restarted right after connections through the proxy (they leave TIME_WAIT on the port).
	env.MustRun("stop", "-t", "1", id)
	env.MustRun("start", id)
	netWaitGet(t, "http://[::1]:"+port+"/", "idle\n")
	env.MustRun("rm", "-f", id)
	env.CheckNoLeaks()
}

// Containers with stdin (-i) or a terminal (-t) go idle too: the idle loop passes an attached
// client's input to the container's stdin (closing it at the client's end with StdinOnce, ^D
// on a terminal), its window size to the terminal, and serves detaching; the output of a
// terminal is logged as stdout.
func TestContainerIdleMonitorStdinAndTerminal(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	tty := strings.TrimSpace(env.MustRun("run", "-dit", "--network", "none", img, "sh"))
	// create -i: StdinOnce, the attached client's end of input closes the container's stdin.
	once := strings.TrimSpace(env.MustRun("create", "-i", "--network", "none", img, "cat"))
	env.MustRun("start", once)
	mon := waitIdle(t, env, tty)
	if rss := rssKB(t, mon); rss > 3*1024 {
		t.Errorf("idle monitor of a terminal: RSS %d kB, want <= 3 MB", rss)
	}
	waitIdle(t, env, once)

	a := env.StartPTY("attach", tty)
	if err := a.Resize(33, 111); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	a.Write("stty size; echo tty-$((40+2))\r")
	if !a.WaitOutput("tty-42", 10*time.Second) || !strings.Contains(a.Output(), "33 111") {
		t.Fatalf("attach to the idle terminal: %q", a.Output())
	}
	a.Write("\x10\x11")
	if r := a.Wait(10 * time.Second); r.Code != 0 {
		t.Errorf("detach: %s", r)
	}
	if pid := waitIdle(t, env, tty); pid != mon {
		t.Errorf("the idle monitor %d was replaced by %d", mon, pid)
	}
	if logs := env.MustRun("logs", tty); !strings.Contains(logs, "tty-42") {
		t.Errorf("terminal output not logged: %q", logs)
	}

	r := env.RunWithStdin(strings.NewReader("once-data\n"), "attach", once)
	if r.Code != 0 || r.Stdout != "once-data\n" {
		t.Errorf("attach with stdin to the idle loop: %s", r)
	}
	if st := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", once)); st != "exited 0" {
		t.Errorf("cat after its stdin closed: %s", st)
	}
	env.MustRun("rm", "-f", tty, once)
	env.CheckNoLeaks()
}
