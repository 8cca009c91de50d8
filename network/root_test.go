package network

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-connections/nat"
	"golang.org/x/sys/unix"
)

func requiresRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("requires root")
	}
}

// inNetns runs fn on a thread moved into the namespace at path; the thread is then discarded.
func inNetns(t *testing.T, path string, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// serveHello listens on port inside the namespace and answers every connection with msg.
func serveHello(t *testing.T, nsPath string, port int, msg string) net.Listener {
	var ln net.Listener
	inNetns(t, nsPath, func() {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		if err != nil {
			t.Error(err)
		}
	})
	if ln == nil {
		t.FailNow()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, msg)
			c.Close()
		}
	}()
	return ln
}

func readHello(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func TestRootBridgeAttachPublish(t *testing.T) {
	requiresRoot(t)
	dir := t.TempDir()
	root, runRoot := filepath.Join(dir, "root"), filepath.Join(dir, "run")
	s, err := Open(root, runRoot)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(root)
		CollectOrphanBridges()
	})
	nsA, nsB := filepath.Join(runRoot, "netns", "a"), filepath.Join(runRoot, "netns", "b")
	for _, p := range []string{nsA, nsB} {
		if err := CreateNetns(p); err != nil {
			t.Fatal(err)
		}
		defer RemoveNetns(p)
	}
	port := freePort(t)
	hosts := filepath.Join(dir, "hostsA")
	epA, err := s.Attach(AttachRequest{ContainerID: "aaaaaaaaaaaa1", Name: "a", Network: "bridge", NsPath: nsA, IfName: "eth0",
		DefaultRoute: true, HostsPath: hosts, Owner: Self(),
		Ports: nat.PortMap{"8080/tcp": {{HostPort: fmt.Sprint(port)}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer epA.Held.Close()
	epB, err := s.Attach(AttachRequest{ContainerID: "bbbbbbbbbbbb1", Name: "b", Network: "bridge", NsPath: nsB, IfName: "eth0", DefaultRoute: true, Owner: Self()})
	if err != nil {
		t.Fatal(err)
	}
	if epA.Lease.IP == epB.Lease.IP {
		t.Fatalf("same IP %s", epA.Lease.IP)
	}
	if !strings.HasPrefix(epA.Lease.MAC, "02:42:") {
		t.Errorf("MAC %s", epA.Lease.MAC)
	}
	ln := serveHello(t, nsA, 8080, "hello-a")
	defer ln.Close()
	// Published port from the host: 127.0.0.1, ::1 (proxy), the gateway address.
	addrs := []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("%s:%d", epA.Network.Gateway, port)}
	if hostIPv6() {
		addrs = append(addrs, fmt.Sprintf("[::1]:%d", port))
	}
	for _, a := range addrs {
		if got, err := readHello(a); err != nil || got != "hello-a" {
			t.Errorf("GET %s = %q, %v", a, got, err)
		}
	}
	// Container to container by IP, and hairpin through the host port.
	inNetns(t, nsB, func() {
		for _, a := range []string{epA.Lease.IP + ":8080", fmt.Sprintf("%s:%d", epA.Network.Gateway, port)} {
			if got, err := readHello(a); err != nil || got != "hello-a" {
				t.Errorf("from b: %s = %q, %v", a, got, err)
			}
		}
	})
	// The same port again is refused in Docker's words.
	nsC := filepath.Join(runRoot, "netns", "c")
	if err := CreateNetns(nsC); err != nil {
		t.Fatal(err)
	}
	defer RemoveNetns(nsC)
	_, err = s.Attach(AttachRequest{ContainerID: "cccccccccccc1", Name: "c", Network: "bridge", NsPath: nsC, IfName: "eth0", Owner: Self(),
		Ports: nat.PortMap{"80/tcp": {{HostPort: fmt.Sprint(port)}}}})
	want := fmt.Sprintf("Bind for 0.0.0.0:%d failed: port is already allocated", port)
	if err == nil || err.Error() != want {
		t.Errorf("second publish: %v, want %q", err, want)
	}
	n, _ := s.Get("bridge")
	if _, ok := n.Leases["cccccccccccc1"]; ok {
		t.Error("failed attach left a lease")
	}
	// Teardown leaves nothing.
	vethA := epA.Lease.Veth
	epA.Held.Close()
	ln.Close() // a socket holds its namespace alive
	if _, err := s.DetachAll("aaaaaaaaaaaa1", nsA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DetachAll("bbbbbbbbbbbb1", nsB); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); linkExists(vethA); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("veth %s left", vethA)
			break
		}
	}
	out, _ := exec.Command("nft", "list", "map", "ip", TableName, mapAnyPorts).CombinedOutput()
	if strings.Contains(string(out), fmt.Sprint(port)) {
		t.Errorf("port %d still in nft map:\n%s", port, out)
	}
	n, _ = s.Get("bridge")
	if len(n.Leases) != 0 {
		t.Errorf("leases left: %v", n.Leases)
	}
	if !linkExists(n.Bridge) {
		t.Errorf("bridge %s removed with the last container", n.Bridge)
	}
}

// BenchmarkRootSandbox measures what the bridge network adds to a run: netns, veth, lease,
// then the teardown.
func BenchmarkRootSandbox(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("requires root")
	}
	dir := b.TempDir()
	root, runRoot := filepath.Join(dir, "root"), filepath.Join(dir, "run")
	s, err := Open(root, runRoot)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		os.RemoveAll(root)
		CollectOrphanBridges()
	})
	ns := filepath.Join(runRoot, "netns", "bench")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := CreateNetns(ns); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Attach(AttachRequest{ContainerID: "bench1", Name: "bench", Network: "bridge", NsPath: ns, IfName: "eth0", DefaultRoute: true, Owner: Self()}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.DetachAll("bench1", ns); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRootPublishUDP: a UDP port published on 127.0.0.1 reaches the container.
func TestRootPublishUDP(t *testing.T) {
	requiresRoot(t)
	dir := t.TempDir()
	root, runRoot := filepath.Join(dir, "root"), filepath.Join(dir, "run")
	s, err := Open(root, runRoot)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(root)
		CollectOrphanBridges()
	})
	ns := filepath.Join(runRoot, "netns", "u")
	if err := CreateNetns(ns); err != nil {
		t.Fatal(err)
	}
	defer RemoveNetns(ns)
	pc0, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	port := pc0.LocalAddr().(*net.UDPAddr).Port
	pc0.Close()
	ep, err := s.Attach(AttachRequest{ContainerID: "udp1", Name: "u", Network: "bridge", NsPath: ns, IfName: "eth0", DefaultRoute: true, Owner: Self(),
		Ports: nat.PortMap{"53/udp": {{HostIP: "127.0.0.1", HostPort: fmt.Sprint(port)}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.DetachAll("udp1", "")
	defer ep.Held.Close()
	if len(ep.Lease.Ports) != 1 || ep.Lease.Ports[0].HostIP != "127.0.0.1" {
		t.Fatalf("published %+v", ep.Lease.Ports)
	}
	var pc net.PacketConn
	inNetns(t, ns, func() {
		pc, err = net.ListenPacket("udp4", ":53")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte("ping"))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "echo:ping" {
		t.Errorf("UDP through 127.0.0.1:%d: %q %v", port, buf[:n], err)
	}
}
