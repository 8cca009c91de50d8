package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// netWait bounds waits for a detached server container to answer.
const netWait = 20 * time.Second

// netFreePort returns a TCP port that is free on the host right now.
func netFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// netGet fetches url with a short timeout.
func netGet(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// netWaitGet polls url until it answers want.
func netWaitGet(t *testing.T, url, want string) {
	t.Helper()
	var got string
	var err error
	if !harness.Eventually(netWait, func() bool {
		got, err = netGet(url)
		return err == nil && got == want
	}) {
		t.Fatalf("GET %s = %q, %v; want %q", url, got, err, want)
	}
}

// httpdCmd serves /www/index.html containing body with busybox httpd on port 80.
func httpdCmd(body string) []string {
	return []string{"sh", "-c", "mkdir -p /www && echo " + body + " > /www/index.html && exec httpd -f -p 80 -h /www"}
}

// netDefaultBridge returns the Linux bridge of env's default network (after a first run).
func netDefaultBridge(t *testing.T, env *harness.Env) string {
	t.Helper()
	var n struct {
		Bridge string
		Leases map[string]json.RawMessage
	}
	data, err := os.ReadFile(filepath.Join(env.Root, "networks", "bridge.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &n); err != nil {
		t.Fatal(err)
	}
	return n.Bridge
}

// netCheckNoNetworkLeaks checks that no veth is left on bridge, no lease is left in env's
// network files and no published port of ports is left in berth's nftables maps.
func netCheckNoNetworkLeaks(t *testing.T, env *harness.Env, bridge string, ports ...int) {
	t.Helper()
	if bridge != "" {
		// A veth goes away with its container's namespace, which the kernel destroys a few
		// milliseconds after the last reference is dropped.
		var v []string
		if !harness.Eventually(5*time.Second, func() bool { v = harness.VethsOf(t, bridge); return len(v) == 0 }) {
			t.Errorf("veths left on %s: %v", bridge, v)
		}
	}
	for name, leases := range netLeases(t, env) {
		if len(leases) > 0 {
			t.Errorf("leases left on network %s: %v", name, leases)
		}
	}
	table := harness.NftTable("ip", "berth")
	for _, p := range ports {
		if strings.Contains(table, fmt.Sprintf(" %d :", p)) || strings.Contains(table, fmt.Sprintf(". %d :", p)) {
			t.Errorf("port %d left in nftables:\n%s", p, table)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(env.RunRoot, "netns")); len(entries) > 0 {
		t.Errorf("netns files left: %d", len(entries))
	}
}

// netLeases returns the container IDs holding an IP lease, by network, from env's lease files
// (<runroot>/networks/<name>.json: container ID -> lease).
func netLeases(t *testing.T, env *harness.Env) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	files, _ := filepath.Glob(filepath.Join(env.RunRoot, "networks", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var leases map[string]json.RawMessage
		if err := json.Unmarshal(data, &leases); err != nil {
			t.Fatalf("lease file %s: %v\n%s", f, err, data)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		out[name] = []string{}
		for id := range leases {
			out[name] = append(out[name], id)
		}
	}
	return out
}

// netIP returns the container's IP address as inspect's range template prints it.
func netIP(t *testing.T, env *harness.Env, name string) string {
	t.Helper()
	ip := strings.TrimSpace(env.MustRun("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name))
	if net.ParseIP(ip) == nil {
		t.Fatalf("inspect IP of %s = %q", name, ip)
	}
	return ip
}

// netEnv is harness.New plus, after the harness removed the test's root, a `network prune` in a
// scratch root: it deletes the bridges berth made for the removed root (the default bridge of a
// root lives as long as the root, as Docker's docker0 does).
func netEnv(t *testing.T) *harness.Env {
	t.Helper()
	if bin, err := harness.Binary(); err == nil {
		t.Cleanup(func() {
			dir, err := os.MkdirTemp("", "berth-gc-")
			if err != nil {
				return
			}
			defer os.RemoveAll(dir)
			exec.Command(bin, "--root", filepath.Join(dir, "r"), "--runroot", filepath.Join(dir, "rr"), "network", "prune", "-f").Run()
		})
	}
	return harness.New(t)
}
