package integration

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// capEff returns the CapEff line of the container's /proc/self/status.
func capEff(t *testing.T, env *harness.Env, args ...string) string {
	t.Helper()
	out := env.MustRun(append(append([]string{"run", "--rm", "--network", "none"}, args...), "grep", "CapEff", "/proc/self/status")...)
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "CapEff:"))
}

func TestContainerDefaultIsolation(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	// Docker's 14 default capabilities.
	if c := capEff(t, env, img); c != "00000000a80425fb" {
		t.Errorf("default CapEff %s, want 00000000a80425fb", c)
	}
	if c := capEff(t, env, "--cap-drop", "ALL", img); c != "0000000000000000" {
		t.Errorf("--cap-drop ALL: CapEff %s", c)
	}
	if c := capEff(t, env, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", img); c != "0000000000001000" {
		t.Errorf("--cap-add NET_ADMIN: CapEff %s", c)
	}
	if c := capEff(t, env, "-u", "1000", img); c != "0000000000000000" {
		t.Errorf("non-root user: CapEff %s", c)
	}
	// mount needs CAP_SYS_ADMIN and the default seccomp profile forbids it.
	if res := env.Run("run", "--rm", "--network", "none", img, "mount", "-t", "tmpfs", "none", "/tmp"); res.Code == 0 {
		t.Errorf("mount succeeded in a default container: %s", res)
	}
	if res := env.Run("run", "--rm", "--privileged", "--network", "none", img, "mount", "-t", "tmpfs", "none", "/tmp"); res.Code != 0 {
		t.Errorf("mount failed with --privileged: %s", res)
	}
	// Seccomp filter on by default, off when unconfined or privileged.
	seccomp := func(args ...string) string {
		out := env.MustRun(append(append([]string{"run", "--rm", "--network", "none"}, args...), "grep", "^Seccomp:", "/proc/self/status")...)
		return strings.Fields(out)[1]
	}
	if s := seccomp(img); s != "2" {
		t.Errorf("default Seccomp mode %s, want 2", s)
	}
	if s := seccomp("--security-opt", "seccomp=unconfined", img); s != "0" {
		t.Errorf("seccomp=unconfined: mode %s", s)
	}
	if out := env.MustRun("run", "--rm", "--security-opt", "no-new-privileges", "--network", "none", img, "grep", "NoNewPrivs", "/proc/self/status"); !strings.Contains(out, "1") {
		t.Errorf("no-new-privileges: %q", out)
	}
	// Masked (/proc/timer_list: /proc/kcore is absent on some kernels) and read-only paths, /sys read-only, /dev/shm 64 MB, hostname = short ID.
	script := `wc -c < /proc/timer_list; touch /sys/x 2>&1 | grep -c Read-only; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo ro; df -k /dev/shm | tail -1 | awk '{print $2}'; hostname; ls /dev`
	res := env.Run("run", "--name", "iso", "--network", "none", img, "sh", "-c", script)
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if res.Code != 0 || len(lines) < 6 {
		t.Fatalf("isolation script: %s", res)
	}
	id := ctrID(t, env, "iso")
	if lines[0] != "0" || lines[1] != "1" || lines[2] != "ro" || lines[3] != "65536" || lines[4] != id[:12] {
		t.Errorf("timer_list size, /sys, /proc/sys, shm, hostname: %q", lines[:5])
	}
	devs := strings.Join(lines[5:], " ")
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"} {
		if !strings.Contains(devs, d) {
			t.Errorf("/dev lacks %s: %s", d, devs)
		}
	}
	env.MustRun("rm", "iso")
	// --read-only, --tmpfs, --shm-size, -h.
	res = env.Run("run", "--rm", "--read-only", "--tmpfs", "/scratch", "--shm-size", "8m", "-h", "box", "--network", "none", img,
		"sh", "-c", "touch /x 2>/dev/null && echo rw || echo ro; touch /scratch/y && echo tmpfs-ok; df -k /dev/shm | tail -1 | awk '{print $2}'; hostname")
	if res.Stdout != "ro\ntmpfs-ok\n8192\nbox\n" {
		t.Errorf("--read-only/--tmpfs/--shm-size/-h: %s", res)
	}
	env.CheckNoLeaks()
}

func TestContainerLimits(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	// OOM: a 64 MB buffer in a 16 MB container is killed, and reported.
	res := env.Run("run", "--name", "hog", "-m", "16m", "--network", "none", img, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	if res.Code != 137 {
		t.Errorf("memory hog: exit %d, want 137\n%s", res.Code, res)
	}
	if oom := ctrState(t, env, "hog", "OOMKilled"); oom != "true" {
		t.Errorf("OOMKilled = %s", oom)
	}
	// pids limit.
	res = env.Run("run", "--rm", "--pids-limit", "5", "--network", "none", img, "sh", "-c",
		"for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait")
	if !strings.Contains(res.Stderr, "fork") {
		t.Errorf("--pids-limit 5 let 8 children run: %s", res)
	}
	// --ulimit, capped at the host's hard limit.
	if out := env.MustRun("run", "--rm", "--ulimit", "nofile=512:1024", "--network", "none", img, "sh", "-c", "ulimit -n; ulimit -Hn"); out != "512\n1024\n" {
		t.Errorf("--ulimit nofile: %q", out)
	}
	if res := env.Run("run", "--rm", "--ulimit", "nofile=1048576:1048576", "--network", "none", img, "true"); res.Code != 0 {
		t.Errorf("--ulimit above the host hard limit should be capped: %s", res)
	}
	// cpu and memory settings land in the cgroup.
	id := strings.TrimSpace(env.MustRun("run", "-d", "--cpus", "0.5", "--cpu-shares", "512", "-m", "32m", "--network", "none", img, "sleep", "100"))
	for file, want := range map[string]string{
		"/sys/fs/cgroup/cpu/berth/" + id + "/cpu.cfs_quota_us":         "50000",
		"/sys/fs/cgroup/cpu/berth/" + id + "/cpu.shares":               "512",
		"/sys/fs/cgroup/memory/berth/" + id + "/memory.limit_in_bytes": "33554432",
	} {
		if got := readTrim(file); got != want && got != "" {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	env.MustRun("rm", "-f", id, "hog")
	env.CheckNoLeaks()
}

func TestContainerUserEnvEntrypoint(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	if out := env.MustRun("run", "--rm", "--network", "none", img, "id"); out != "uid=0(root) gid=0(root) groups=0(root),10(wheel)\n" {
		t.Errorf("id as root: %q", out)
	}
	if out := env.MustRun("run", "--rm", "-u", "nobody", "--network", "none", img, "id", "-u"); out != "65534\n" {
		t.Errorf("-u nobody: %q", out)
	}
	if out := env.MustRun("run", "--rm", "-u", "1234:5678", "--network", "none", img, "sh", "-c", "id -u; id -g"); out != "1234\n5678\n" {
		t.Errorf("-u 1234:5678: %q", out)
	}
	if res := env.Run("run", "--rm", "-u", "nosuchuser", "--network", "none", img, "true"); res.Code != 125 || !strings.Contains(res.Stderr, "unable to find user nosuchuser") {
		t.Errorf("-u nosuchuser: %s", res)
	}
	out := env.MustRun("run", "--rm", "-e", "A=1", "-e", "PATH=/bin", "--network", "none", img, "env")
	for _, want := range []string{"A=1", "PATH=/bin", "HOSTNAME=", "HOME=/root"} {
		if !strings.Contains(out, want) {
			t.Errorf("env lacks %s:\n%s", want, out)
		}
	}
	if out := env.MustRun("run", "--rm", "--entrypoint", "echo", "--network", "none", img, "a", "b"); out != "a b\n" {
		t.Errorf("--entrypoint: %q", out)
	}
	if out := env.MustRun("run", "--rm", "-w", "/etc", "--network", "none", img, "pwd"); out != "/etc\n" {
		t.Errorf("-w: %q", out)
	}
	// --init: PID 1 is the reaper, the command is its child.
	if out := env.MustRun("run", "--rm", "--init", "--network", "none", img, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"); !strings.HasPrefix(out, "/sbin/docker-init -- sh") {
		t.Errorf("--init: PID 1 is %q", out)
	}
	env.CheckNoLeaks()
}

func TestContainerTerminalAndDetach(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	p := env.StartPTY("run", "-it", "--name", "tty", "--network", "none", img, "sh")
	if !p.WaitOutput("# ", ctrWait) {
		t.Fatalf("no prompt: %q", p.Output())
	}
	p.Write("tty; stty size; echo marker-$((6*7))\r")
	if !p.WaitOutput("marker-42", ctrWait) {
		t.Fatalf("no command output: %q", p.Output())
	}
	if out := p.Output(); !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "24 80") {
		t.Errorf("terminal name and size: %q", out)
	}
	p.Write("\x10\x11") // Ctrl-P Ctrl-Q
	if r := p.Wait(ctrWait); r.Code != 0 {
		t.Errorf("detach: %s", r)
	}
	if st := ctrState(t, env, "tty", "Status"); st != "running" {
		t.Fatalf("container after detach: %s", st)
	}
	a := env.StartPTY("attach", "tty")
	time.Sleep(300 * time.Millisecond)
	a.Write("echo again-$((1+1))\r")
	if !a.WaitOutput("again-2", ctrWait) {
		t.Fatalf("attach: %q", a.Output())
	}
	a.Write("exit 4\r")
	if r := a.Wait(ctrWait); r.Code != 4 {
		t.Errorf("attach exit code: %s", r)
	}
	// exec -it gets its own terminal.
	env.MustRun("run", "-d", "--name", "bg", "--network", "none", img, "sleep", "100")
	e := env.StartPTY("exec", "-it", "bg", "sh", "-c", "tty; exit 3")
	if r := e.Wait(ctrWait); r.Code != 3 || !strings.Contains(e.Output(), "/dev/pts/") {
		t.Errorf("exec -it: %s %q", r, e.Output())
	}
	env.MustRun("rm", "-f", "tty", "bg")
	env.CheckNoLeaks()
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
