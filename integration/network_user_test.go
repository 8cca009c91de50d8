package integration

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
	nettypes "github.com/docker/docker/api/types/network"
)

// TestNetworkUserDefined: containers on a user network reach each other by name, alias and
// short ID; network inspect lists them; connect/disconnect add and remove an interface live;
// rm is refused while in use; nothing is left afterwards.
func TestNetworkUserDefined(t *testing.T) {
	env := netEnv(t)
	img := env.Pull("busybox")
	id := strings.TrimSpace(env.MustRun("network", "create", "--subnet", "10.231.9.0/24", "--label", "team=net", "appnet"))
	if len(id) != 64 {
		t.Fatalf("network create printed %q", id)
	}
	if out := env.MustRun("network", "ls", "--filter", "label=team=net", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); out != "appnet bridge local\n" {
		t.Errorf("network ls filtered = %q", out)
	}
	out := env.MustRun("network", "ls")
	for _, want := range []string{"NETWORK ID", "bridge", "host", "none", "appnet"} {
		if !strings.Contains(out, want) {
			t.Errorf("network ls lacks %q:\n%s", want, out)
		}
	}
	env.MustRun(append([]string{"run", "-d", "--name", "srv", "--network", "appnet", "--network-alias", "api", img}, httpdCmd("srv")...)...)
	srvID := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.Id}}", "srv"))
	ip := netIP(t, env, "srv")
	if !strings.HasPrefix(ip, "10.231.9.") {
		t.Errorf("srv IP %s not in 10.231.9.0/24", ip)
	}
	for _, name := range []string{"srv", "api", srvID[:12]} {
		var got string
		harness.Eventually(netWait, func() bool {
			got = env.Run("run", "--rm", "--network", "appnet", img, "wget", "-qO-", "http://"+name+"/").Stdout
			return got == "srv\n"
		})
		if got != "srv\n" {
			t.Errorf("wget http://%s/ on appnet = %q", name, got)
		}
	}
	// A static --ip on the user network.
	if out := env.MustRun("run", "--rm", "--network", "appnet", "--ip", "10.231.9.77", img, "sh", "-c", "ip -o -4 addr show eth0"); !strings.Contains(out, "10.231.9.77/24") {
		t.Errorf("--ip: %q", out)
	}

	var insp []nettypes.Inspect
	if err := json.Unmarshal([]byte(env.MustRun("network", "inspect", "appnet")), &insp); err != nil || len(insp) != 1 {
		t.Fatalf("network inspect: %v", err)
	}
	if ep, ok := insp[0].Containers[srvID]; !ok || ep.Name != "srv" || ep.IPv4Address != ip+"/24" {
		t.Errorf("network inspect Containers = %+v", insp[0].Containers)
	}
	if insp[0].IPAM.Config[0].Subnet != "10.231.9.0/24" || insp[0].Labels["team"] != "net" {
		t.Errorf("network inspect = %+v", insp[0])
	}
	if r := env.Run("network", "rm", "appnet"); r.Code == 0 || !strings.Contains(r.Stderr, "has active endpoints") {
		t.Errorf("network rm while in use: %s", r)
	}

	// Live connect / disconnect of a container on the default bridge.
	env.MustRun("run", "-d", "--name", "cli", img, "sleep", "300")
	env.MustRun("network", "connect", "--alias", "client", "appnet", "cli")
	if out := env.MustRun("exec", "cli", "ip", "-o", "-4", "addr", "show", "eth1"); !strings.Contains(out, "10.231.9.") {
		t.Errorf("eth1 after connect: %q", out)
	}
	if out := env.MustRun("exec", "cli", "wget", "-qO-", "http://srv/"); out != "srv\n" {
		t.Errorf("cli -> srv after connect: %q", out)
	}
	if out := env.MustRun("exec", "srv", "cat", "/etc/hosts"); !strings.Contains(out, "client") {
		t.Errorf("srv's /etc/hosts lacks the connected container:\n%s", out)
	}
	env.MustRun("network", "disconnect", "appnet", "cli")
	if r := env.Run("exec", "cli", "ip", "link", "show", "eth1"); r.Code == 0 {
		t.Errorf("eth1 still there after disconnect: %s", r)
	}
	if out := env.MustRun("exec", "srv", "cat", "/etc/hosts"); strings.Contains(out, "client") {
		t.Errorf("srv's /etc/hosts still lists the disconnected container:\n%s", out)
	}

	bridge := insp[0].Options["com.docker.network.bridge.name"]
	if bridge == "" {
		bridge = "br-" + id[:12]
	}
	env.MustRun("rm", "-f", "srv", "cli")
	netCheckNoNetworkLeaks(t, env, bridge)
	if out := env.MustRun("network", "rm", "appnet"); out != "appnet\n" {
		t.Errorf("network rm printed %q", out)
	}
	if err := exec.Command("ip", "link", "show", bridge).Run(); err == nil {
		t.Errorf("bridge %s left after network rm", bridge)
	}
	if strings.Contains(harness.NftTable("ip", "berth"), id) {
		t.Errorf("rules of the removed network left")
	}
	env.CheckNoLeaks()
}

// TestNetworkModes: none has only lo, host shares the host's interfaces, container:NAME shares
// another container's, and --add-host/--hostname/--dns land in the container's files.
func TestNetworkModes(t *testing.T) {
	env := netEnv(t)
	img := env.Pull("busybox")
	if out := env.MustRun("run", "--rm", "--network", "none", img, "ls", "/sys/class/net"); strings.TrimSpace(out) != "lo" {
		t.Errorf("--network none interfaces: %q", out)
	}
	if out := env.MustRun("run", "--rm", "--net", "host", img, "ls", "/sys/class/net"); !strings.Contains(out, "eth0") || !strings.Contains(out, "lo") {
		t.Errorf("--net host interfaces: %q", out)
	}
	// Published ports are dropped in host mode with Docker's warning, and the run still works.
	if r := env.Run("run", "--rm", "--network", "host", "-p", "18089:80", img, "true"); r.Code != 0 ||
		!strings.Contains(r.Stderr, "WARNING: Published ports are discarded when using host network mode") {
		t.Errorf("--network host -p: %s", r)
	}
	env.MustRun("run", "-d", "--name", "base", img, "sleep", "300")
	baseIP := netIP(t, env, "base")
	if out := env.MustRun("run", "--rm", "--network", "container:base", img, "ip", "-o", "-4", "addr", "show", "eth0"); !strings.Contains(out, baseIP+"/") {
		t.Errorf("container:base eth0: %q (base has %s)", out, baseIP)
	}
	// It also takes base's hostname, as Docker does.
	baseHost := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.Config.Hostname}}", "base"))
	if out := env.MustRun("run", "--rm", "--network", "container:base", img, "sh", "-c", "hostname; echo $HOSTNAME"); out != baseHost+"\n"+baseHost+"\n" {
		t.Errorf("container:base hostname: %q, want base's %q", out, baseHost)
	}
	out := env.MustRun("run", "--rm", "--hostname", "box", "--add-host", "db:10.1.2.3", "--dns", "9.9.9.9", "--dns-search", "example.org",
		img, "sh", "-c", "cat /etc/hosts /etc/resolv.conf; hostname")
	for _, want := range []string{"10.1.2.3\tdb", "\tbox\n", "nameserver 9.9.9.9", "search example.org", "\nbox\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("etc files lack %q:\n%s", want, out)
		}
	}
	if r := env.Run("run", "--rm", "--network", "nosuchnet", img, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "network nosuchnet not found") {
		t.Errorf("unknown network: %s", r)
	}
	env.MustRun("rm", "-f", "base")
	netCheckNoNetworkLeaks(t, env, netDefaultBridge(t, env))
	env.CheckNoLeaks()
}

// TestNetworkModeConflicts: what Docker's daemon refuses for a network mode, and a --link to a
// missing container, fail at create with its words and exit 125, leaving no container.
func TestNetworkModeConflicts(t *testing.T) {
	env := netEnv(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "base", img, "sleep", "300")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--network", "container:base", "-p", "8080:80"}, "conflicting options: port publishing and the container type network mode"},
		{[]string{"--network", "container:base", "-P"}, "conflicting options: port publishing and the container type network mode"},
		{[]string{"--network", "container:base", "--expose", "80"}, "conflicting options: port exposing and the container type network mode"},
		{[]string{"--network", "container:base", "-h", "x"}, "conflicting options: hostname and the network mode"},
		{[]string{"--network", "container:base", "--dns", "1.1.1.1"}, "conflicting options: dns and the network mode"},
		{[]string{"--network", "container:base", "--add-host", "a:1.2.3.4"}, "conflicting options: custom host-to-IP mapping and the network mode"},
		{[]string{"--network", "container:base", "--link", "base:b"}, "conflicting options: container type network can't be used with links"},
		{[]string{"--network", "host", "--mac-address", "02:42:ac:11:00:09"}, "conflicting options: mac-address and the network mode"},
		{[]string{"--network", "host", "--link", "base:b"}, "conflicting options: host type networking can't be used with links"},
		{[]string{"--link", "nosuch:x"}, "could not get container for nosuch: No such container: nosuch"},
	} {
		r := env.Run(append(append([]string{"run", "--name", "bad"}, tc.args...), img, "true")...)
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("run %v: %s\nwant %q", tc.args, r, tc.want)
		}
	}
	if out := env.MustRun("ps", "-aq", "--filter", "name=bad"); strings.TrimSpace(out) != "" {
		t.Errorf("refused runs left containers: %q", out)
	}
	// The image's EXPOSE is no conflict (only the request's --expose is).
	env.MustRun("run", "--rm", "--network", "container:base", env.Pull("layered"), "true")
	env.MustRun("rm", "-f", "base")
	netCheckNoNetworkLeaks(t, env, netDefaultBridge(t, env))
	env.CheckNoLeaks()
}
