package integration

import (
	"fmt"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// A wrong number of arguments is worded as docker/cli words it, with the usage, exit 1.
func TestContainerArgumentCountErrors(t *testing.T) {
	env := harness.New(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"rm"}, "\"berth rm\" requires at least 1 argument.\nSee 'berth rm --help'.\n\nUsage:  berth rm [OPTIONS] CONTAINER [CONTAINER...]\n\nRemove one or more containers\n"},
		{[]string{"container", "rm"}, "\"berth container rm\" requires at least 1 argument.\nSee 'berth container rm --help'.\n\nUsage:  berth container rm [OPTIONS] CONTAINER [CONTAINER...]\n"},
		{[]string{"run"}, "\"berth run\" requires at least 1 argument.\nSee 'berth run --help'.\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"},
		{[]string{"exec", "x"}, "\"berth exec\" requires at least 2 arguments.\n"},
		{[]string{"rename", "x"}, "\"berth rename\" requires exactly 2 arguments.\n"},
		{[]string{"logs"}, "\"berth logs\" requires exactly 1 argument.\n"},
		{[]string{"ps", "extra"}, "\"berth ps\" accepts no arguments.\nSee 'berth ps --help'.\n\nUsage:  berth ps [OPTIONS]\n\nList containers\n"},
	}
	for _, c := range cases {
		res := env.Run(c.args...)
		if res.Code != 1 || !strings.HasPrefix(res.Stderr, c.want) || res.Stdout != "" {
			t.Errorf("berth %s: %s\nwant stderr starting with:\n%s", strings.Join(c.args, " "), res, c.want)
		}
	}
}

// exec is refused in Docker's words on a paused and on a stopped container.
func TestContainerExecRefusals(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "ex", "--network", "none", img, "sleep", "100")
	id := ctrID(t, env, "ex")
	env.MustRun("pause", "ex")
	if res := env.Run("exec", "ex", "true"); res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: Container ex is paused, unpause the container before exec" {
		t.Errorf("exec into a paused container: %s", res)
	}
	env.MustRun("unpause", "ex")
	env.MustRun("stop", "-t", "0", "ex")
	if res := env.Run("exec", "ex", "true"); res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: container "+id+" is not running" {
		t.Errorf("exec into a stopped container: %s", res)
	}
	env.MustRun("rm", "ex")
	env.CheckNoLeaks()
}

// --cpus and --cpuset-cpus beyond the host are refused at create, as Docker's daemon does, and
// leave no container behind.
func TestContainerCPUValidation(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	n := goruntime.NumCPU()
	res := env.Run("run", "--rm", "--network", "none", "--cpus", strconv.Itoa(n+1), img, "true")
	if want := fmt.Sprintf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n); res.Code != 125 || !strings.Contains(res.Stderr, want) {
		t.Errorf("--cpus %d: %s", n+1, res)
	}
	res = env.Run("create", "--network", "none", "--cpuset-cpus", "4096", img, "true")
	if res.Code != 125 || !strings.Contains(res.Stderr, "Requested CPUs are not available - requested 4096, available: ") {
		t.Errorf("--cpuset-cpus 4096: %s", res)
	}
	if res := env.Run("create", "--network", "none", "--cpuset-cpus", "zero", img, "true"); res.Code != 125 || !strings.Contains(res.Stderr, "Invalid value zero for cpuset cpus") {
		t.Errorf("--cpuset-cpus zero: %s", res)
	}
	// cgroup v1 shows the container's cpuset under cpuset/, v2 (cgroup namespace) at the top.
	if out := env.MustRun("run", "--rm", "--network", "none", "--cpuset-cpus", "0", img, "sh", "-c", "cat /sys/fs/cgroup/cpuset/cpuset.cpus 2>/dev/null || cat /sys/fs/cgroup/cpuset.cpus"); strings.TrimSpace(out) != "0" {
		t.Errorf("--cpuset-cpus 0: cpuset.cpus %q", out)
	}
	if out := strings.TrimSpace(env.MustRun("ps", "-aq")); out != "" {
		t.Errorf("refused creates left containers: %s", out)
	}
	env.CheckNoLeaks()
}

// --device makes the host's node, under another name if asked, with the cgroup permissions given.
func TestContainerDevice(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	out := env.MustRun("run", "--rm", "--network", "none", "--device", "/dev/zero:/dev/myzero", img, "sh", "-c", "stat -c '%F %t,%T' /dev/myzero; head -c 3 /dev/myzero | od -An -tx1")
	if want := "character special file 1,5\n 00 00 00\n"; out != want {
		t.Errorf("--device /dev/zero:/dev/myzero: %q, want %q", out, want)
	}
	// Without --device the node is not there.
	if res := env.Run("run", "--rm", "--network", "none", img, "ls", "/dev/kmsg"); res.Code == 0 {
		t.Errorf("/dev/kmsg without --device: %s", res)
	}
	// :r lets the container open the node for reading only (the device cgroup refuses writes).
	res := env.Run("run", "--rm", "--network", "none", "--device", "/dev/kmsg:/dev/k:r", img, "sh", "-c", "ls /dev/k && echo berth-test > /dev/k")
	if res.Code == 0 || !strings.Contains(res.Stderr, "Operation not permitted") {
		t.Errorf("write to a read-only --device: %s", res)
	}
	env.MustRun("create", "--name", "dev", "--network", "none", "--device", "/dev/zero:/dev/myzero", img, "true")
	if got := strings.TrimSpace(env.MustRun("inspect", "-f", "{{json .HostConfig.Devices}}", "dev")); got != `[{"PathOnHost":"/dev/zero","PathInContainer":"/dev/myzero","CgroupPermissions":"rwm"}]` {
		t.Errorf("HostConfig.Devices = %s", got)
	}
	env.MustRun("rm", "dev")
	if res := env.Run("run", "--rm", "--network", "none", "--device", "/dev/nosuch", img, "true"); res.Code != 125 || !strings.Contains(res.Stderr, `error gathering device information while adding custom device "/dev/nosuch"`) {
		t.Errorf("--device of a missing node: %s", res)
	}
	if out := strings.TrimSpace(env.MustRun("ps", "-aq")); out != "" {
		t.Errorf("containers left: %s", out)
	}
	env.CheckNoLeaks()
}
