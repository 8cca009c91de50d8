package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// TestNetworkPublishHTTP is the seeds' nginx exercise with busybox httpd: a published port
// answers on 127.0.0.1, localhost, ::1 and the host's other addresses; `port`, `ps` and
// `inspect` show it; the same port is refused for a second container; nothing is left after rm.
func TestNetworkPublishHTTP(t *testing.T) {
	env := netEnv(t)
	img := env.Pull("busybox")
	port := netFreePort(t)
	env.MustRun(append([]string{"run", "-d", "--name", "web", "-p", fmt.Sprintf("%d:80", port), img}, httpdCmd("hi")...)...)
	netWaitGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), "hi\n")
	netWaitGet(t, fmt.Sprintf("http://localhost:%d/", port), "hi\n")
	netWaitGet(t, fmt.Sprintf("http://[::1]:%d/", port), "hi\n")
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			netWaitGet(t, fmt.Sprintf("http://%s:%d/", ipn.IP, port), "hi\n")
		}
	}

	out := env.MustRun("port", "web")
	if !strings.Contains(out, fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n", port)) || !strings.Contains(out, fmt.Sprintf("80/tcp -> [::]:%d\n", port)) {
		t.Errorf("port web = %q", out)
	}
	if out := env.MustRun("port", "web", "80"); !strings.HasPrefix(out, fmt.Sprintf("0.0.0.0:%d\n", port)) {
		t.Errorf("port web 80 = %q", out)
	}
	if r := env.Run("port", "web", "81"); r.Code != 1 || !strings.Contains(r.Stderr, "No public port '81/tcp' published for web") {
		t.Errorf("port web 81: %s", r)
	}
	ip := netIP(t, env, "web")
	if mac := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.NetworkSettings.MacAddress}}", "web")); mac != "" && !strings.HasPrefix(mac, "02:42:") {
		t.Errorf("MacAddress %q", mac)
	}
	if out := env.MustRun("inspect", "-f", `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`, "web"); strings.TrimSpace(out) != fmt.Sprint(port) {
		t.Errorf("inspect Ports = %q", out)
	}
	if out := env.MustRun("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "web"); !strings.Contains(out, env.RunRoot) {
		t.Errorf("SandboxKey = %q", out)
	}

	// A second container on the same port is refused; nothing of it keeps running.
	r := env.Run(append([]string{"run", "-d", "--name", "web2", "-p", fmt.Sprintf("%d:80", port), img}, httpdCmd("no")...)...)
	if r.Code != 125 || !strings.Contains(r.Stderr, fmt.Sprintf("Bind for 0.0.0.0:%d failed: port is already allocated", port)) ||
		strings.Contains(r.Stderr, "network: ") {
		t.Errorf("second publish of %d: %s", port, r)
	}
	if out := env.MustRun("ps", "-q", "--filter", "name=web2"); strings.TrimSpace(out) != "" {
		t.Errorf("web2 is running: %q", out)
	}
	// The failed start left nothing of its own: web's veth, lease and netns only.
	if v := harness.VethsOf(t, netDefaultBridge(t, env)); len(v) != 1 {
		t.Errorf("veths after a failed start: %v", v)
	}
	if l := netLeases(t, env)["bridge"]; len(l) != 1 {
		t.Errorf("leases after a failed start: %v", l)
	}
	if entries, _ := os.ReadDir(filepath.Join(env.RunRoot, "netns")); len(entries) != 1 {
		t.Errorf("netns files after a failed start: %d", len(entries))
	}
	// A port held by another process is refused the same way.
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := l.Addr().(*net.TCPAddr).Port
	r = env.Run("run", "--rm", "-p", fmt.Sprintf("%d:80", taken), img, "true")
	l.Close()
	if r.Code != 125 || !strings.Contains(r.Stderr, fmt.Sprintf("Bind for 0.0.0.0:%d failed: port is already allocated", taken)) {
		t.Errorf("publish of a port held by a process: %s", r)
	}

	// Container to container by IP on the default bridge, and through the host port (hairpin).
	if out := env.MustRun("run", "--rm", img, "wget", "-qO-", "http://"+ip+"/"); out != "hi\n" {
		t.Errorf("wget by IP = %q", out)
	}
	bridge := netDefaultBridge(t, env)
	gw := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.NetworkSettings.Gateway}}", "web"))
	if out := env.MustRun("run", "--rm", img, "wget", "-qO-", fmt.Sprintf("http://%s:%d/", gw, port)); out != "hi\n" {
		t.Errorf("hairpin wget = %q", out)
	}
	// --link on the default bridge: the alias resolves, and Docker's link variables are set
	// (the container's own -e wins over them).
	if out := env.MustRun("run", "--rm", "--link", "web:site", img, "wget", "-qO-", "http://site/"); out != "hi\n" {
		t.Errorf("wget through --link = %q", out)
	}
	out = env.MustRun("run", "--rm", "--name", "linker", "--link", "web:site", "-e", "SITE_PORT_80_TCP_PROTO=mine", img, "sh", "-c",
		`echo "$SITE_PORT|$SITE_PORT_80_TCP|$SITE_PORT_80_TCP_ADDR|$SITE_PORT_80_TCP_PORT|$SITE_PORT_80_TCP_PROTO|$SITE_NAME"`)
	if want := fmt.Sprintf("tcp://%s:80|tcp://%s:80|%s|80|mine|/linker/site\n", ip, ip, ip); out != want {
		t.Errorf("--link variables = %q, want %q", out, want)
	}

	env.MustRun("rm", "-f", "web")
	env.Run("rm", "-f", "web2")
	if _, err := netGet(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
		t.Errorf("port %d still answers after rm", port)
	}
	netCheckNoNetworkLeaks(t, env, bridge, port, taken)
	if len(harness.LinkNames(t, "bridge", bridge)) != 1 {
		t.Errorf("the default bridge %s went away with its last container", bridge)
	}
	env.CheckNoLeaks()
}

// TestNetworkPublishErrors: malformed -p fails with 125 before anything is created.
func TestNetworkPublishErrors(t *testing.T) {
	env := netEnv(t)
	img := env.Pull("busybox")
	// As docker0 exists from the daemon's start, the default bridge has its subnet before any
	// container used it.
	cfg := strings.TrimSpace(env.MustRun("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}", "bridge"))
	if subnet, gw, _ := strings.Cut(cfg, " "); net.ParseIP(gw) == nil || !strings.Contains(subnet, "/") {
		t.Errorf("network inspect bridge before first use: IPAM.Config %q", cfg)
	}
	for spec, want := range map[string]string{
		"99999:80":    "invalid hostPort: 99999",
		"80:99999":    "invalid containerPort: 99999",
		"1.2.3:80:80": "invalid IP address: 1.2.3",
		"80/icmp":     "invalid proto: icmp",
	} {
		r := env.Run("run", "--rm", "-p", spec, img, "true")
		if r.Code != 125 || !strings.Contains(r.Stderr, want) {
			t.Errorf("-p %s: %s", spec, r)
		}
	}
	if out := env.MustRun("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Errorf("containers created: %q", out)
	}
	env.CheckNoLeaks()
}

// TestNetworkPublishAll: -P publishes the image's EXPOSEd port on a random port; `port` shows it.
func TestNetworkPublishAll(t *testing.T) {
	env := netEnv(t)
	img := env.Pull("layered")
	env.MustRun("run", "-d", "--name", "pa", "-P", img, "httpd", "-f", "-p", "8080", "-h", "/app")
	out := strings.TrimSpace(env.MustRun("port", "pa", "8080/tcp"))
	first := strings.Split(out, "\n")[0]
	host, p, err := net.SplitHostPort(first)
	if err != nil || host != "0.0.0.0" || p == "0" {
		t.Fatalf("port pa 8080/tcp = %q", out)
	}
	body, _ := netGet("http://127.0.0.1:" + p + "/data.txt")
	if !harness.Eventually(netWait, func() bool {
		body, err = netGet("http://127.0.0.1:" + p + "/data.txt")
		return err == nil && body != ""
	}) {
		t.Errorf("GET through -P port %s: %q %v", p, body, err)
	}
	env.MustRun("rm", "-f", "pa")
	netCheckNoNetworkLeaks(t, env, netDefaultBridge(t, env))
	env.CheckNoLeaks()
}
