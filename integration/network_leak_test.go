package integration

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// TestNetworkNoLeakAfterMonitorKill: a monitor killed with SIGKILL leaves a veth, a netns mount,
// a lease and a DNAT entry behind; the next berth command reconciles them all away.
func TestNetworkNoLeakAfterMonitorKill(t *testing.T) {
	env := netEnv(t)
	img := env.Pull("busybox")
	port := netFreePort(t)
	env.MustRun("run", "-d", "--name", "victim", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), img, "sleep", "300")
	bridge := netDefaultBridge(t, env)
	if len(harness.VethsOf(t, bridge)) != 1 {
		t.Fatalf("no veth on %s", bridge)
	}
	if !strings.Contains(harness.NftTable("ip", "berth"), fmt.Sprint(port)) {
		t.Fatalf("port %d not in nftables", port)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(env.MustRun("inspect", "-f", "{{.State.Pid}}", "victim")))
	if err != nil {
		t.Fatal(err)
	}
	mon := monitorOf(t, pid)
	if err := syscall.Kill(mon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(netWait, func() bool {
		return strings.Contains(env.MustRun("ps", "-a", "--format", "{{.Status}}", "--filter", "name=victim"), "Exited")
	})
	env.MustRun("rm", "-f", "victim")
	netCheckNoNetworkLeaks(t, env, bridge, port)
	env.CheckNoLeaks()
}

// monitorOf returns the parent of the container's init: its monitor.
func monitorOf(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// TestNetworkNoLeakAfterStop: a stopped container keeps nothing on the host (veth, netns, lease,
// DNAT entry, bound port) while it still exists, and gets all of it back on start.
func TestNetworkNoLeakAfterStop(t *testing.T) {
	env := netEnv(t)
	img := env.Pull("busybox")
	port := netFreePort(t)
	env.MustRun(append([]string{"run", "-d", "--name", "st", "-p", fmt.Sprintf("%d:80", port), img}, httpdCmd("up")...)...)
	netWaitGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "up\n")
	bridge := netDefaultBridge(t, env)
	env.MustRun("stop", "-t", "1", "st")
	netCheckNoNetworkLeaks(t, env, bridge, port)
	if l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port)); err != nil {
		t.Errorf("port %d still held after stop: %v", port, err)
	} else {
		l.Close()
	}
	env.MustRun("start", "st")
	netWaitGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "up\n")
	env.MustRun("rm", "-f", "st")
	netCheckNoNetworkLeaks(t, env, bridge, port)
	env.CheckNoLeaks()
}
