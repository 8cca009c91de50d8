package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-connections/nat"
	"golang.org/x/sys/unix"
)

// PublishedPort is one host port forwarded to a container port.
type PublishedPort struct {
	Proto         string // tcp, udp, sctp
	HostIP        string // "0.0.0.0", "::", or a specific address
	HostPort      int
	ContainerIP   string
	ContainerPort int
	// IPv6 ports are served by a proxy in the owning process, not by nftables.
	IPv6 bool `json:",omitempty"`
}

// Key is the Docker port key ("80/tcp").
func (p PublishedPort) Key() string { return fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto) }

// Held keeps the host ports of a container reserved (bound sockets) and runs the IPv6 proxies,
// for as long as the process that published them lives or until Close.
type Held struct {
	mu      sync.Mutex
	closers []io.Closer
	// targets are the container addresses of the IPv6 proxies, by index in closers.
	targets map[int]string
}

// HeldSocket is one socket of a Held handed over to another program (see Handover): a reserved
// port, or, with a Target, an IPv6 proxy's listening socket and the container address it
// forwards to.
type HeldSocket struct {
	FD     int
	Target string
}

// Close releases the ports.
func (h *Held) Close() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.closers {
		c.Close()
	}
	h.closers = nil
	return nil
}

// Handover returns duplicates of the sockets (without close-on-exec) for a program that takes
// over reserving the ports and serving the IPv6 proxies (a container monitor's idle loop), and
// stops serving the proxies here; resume serves them again (when the hand-over did not happen).
// The sockets themselves stay open until Close.
func (h *Held) Handover() (socks []HeldSocket, resume func(), err error) {
	if h == nil {
		return nil, func() {}, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var stopped []int
	resume = func() {
		for _, i := range stopped {
			ln := h.closers[i].(*net.TCPListener)
			ln.SetDeadline(time.Time{})
			go serveProxy(ln, h.targets[i])
		}
	}
	for i, c := range h.closers {
		var fd int
		switch c := c.(type) {
		case fdCloser:
			fd, err = unix.Dup(int(c))
		case *net.TCPListener:
			c.SetDeadline(time.Unix(1, 0)) // its accept loop ends, the socket stays
			stopped = append(stopped, i)
			var f *os.File
			if f, err = c.File(); err == nil {
				fd, err = unix.Dup(int(f.Fd()))
				f.Close()
			}
		default:
			continue
		}
		if err != nil {
			for _, s := range socks {
				unix.Close(s.FD)
			}
			resume()
			return nil, nil, fmt.Errorf("hand over port sockets: %w", err)
		}
		socks = append(socks, HeldSocket{FD: fd, Target: h.targets[i]})
	}
	return socks, resume, nil
}

func allocatedErr(ip string, port int) error {
	return fmt.Errorf("Bind for %s failed: port is already allocated", net.JoinHostPort(ip, strconv.Itoa(port)))
}

// bindSocket binds (without SO_REUSEADDR, without listening for IPv4) so that no other process and
// no other container can take the port while we hold it.
func bindSocket(proto string, ip netip.Addr, port int) (fd int, bound int, err error) {
	family := unix.AF_INET
	if ip.Is6() {
		family = unix.AF_INET6
	}
	typ, p := unix.SOCK_STREAM, unix.IPPROTO_TCP
	switch proto {
	case "udp":
		typ, p = unix.SOCK_DGRAM, unix.IPPROTO_UDP
	case "sctp":
		typ, p = unix.SOCK_STREAM, unix.IPPROTO_SCTP
	}
	fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, p)
	if err != nil {
		return -1, 0, err
	}
	var sa unix.Sockaddr
	if ip.Is6() && typ == unix.SOCK_STREAM && p == unix.IPPROTO_TCP {
		// The IPv6 TCP socket becomes the proxy's listener: SO_REUSEADDR lets it bind over the
		// TIME_WAIT its own proxied connections leave (a restart within a minute of one failed
		// with "port is already allocated"), and a listening socket still keeps every other
		// socket off the port.
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if ip.Is6() {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		sa = &unix.SockaddrInet6{Port: port, Addr: ip.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: port, Addr: ip.As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		bound = a.Port
	case *unix.SockaddrInet6:
		bound = a.Port
	}
	return fd, bound, nil
}

type fdCloser int

func (f fdCloser) Close() error { return unix.Close(int(f)) }

// hostIPv6 reports whether the host has IPv6 (::1 on lo), so 0.0.0.0 bindings are also served on [::].
func hostIPv6() bool {
	data, err := os.ReadFile("/proc/net/if_inet6")
	return err == nil && strings.Contains(string(data), "00000000000000000000000000000001")
}

type wantPort struct {
	proto       string
	cport       int
	hostIP      string
	first, last int // 0,0 = any ephemeral port
}

// expandBindings orders the bindings (by container port, then host IP) and parses the host ports.
func expandBindings(bindings nat.PortMap) ([]wantPort, error) {
	var keys []string
	for k := range bindings {
		keys = append(keys, string(k))
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := nat.Port(keys[i]), nat.Port(keys[j])
		if a.Int() != b.Int() {
			return a.Int() < b.Int()
		}
		return a.Proto() < b.Proto()
	})
	var out []wantPort
	for _, k := range keys {
		port := nat.Port(k)
		for _, b := range bindings[port] {
			w := wantPort{proto: port.Proto(), cport: port.Int(), hostIP: b.HostIP}
			if b.HostPort != "" {
				first, last, err := nat.ParsePortRangeToInt(b.HostPort)
				if err != nil {
					return nil, fmt.Errorf("invalid hostPort: %s", b.HostPort)
				}
				w.first, w.last = first, last
			}
			out = append(out, w)
		}
	}
	return out, nil
}

// reservePorts binds every requested host port (choosing free ones for random and ranged
// bindings), starts the IPv6 proxies and returns what is published. A taken port fails with
// Docker's "Bind for 0.0.0.0:3344 failed: port is already allocated" and nothing stays bound.
func reservePorts(bindings nat.PortMap, containerIP string) (out []PublishedPort, held *Held, err error) {
	wants, err := expandBindings(bindings)
	if err != nil {
		return nil, nil, err
	}
	held = &Held{}
	defer func() {
		if err != nil {
			held.Close()
			held, out = nil, nil
		}
	}()
	v6 := hostIPv6()
	for _, w := range wants {
		var addrs []netip.Addr
		switch ip := strings.Trim(w.hostIP, "[]"); ip {
		case "", "0.0.0.0":
			addrs = append(addrs, netip.IPv4Unspecified())
			if ip == "" && v6 {
				addrs = append(addrs, netip.IPv6Unspecified())
			}
		default:
			a, perr := netip.ParseAddr(ip)
			if perr != nil {
				return nil, nil, fmt.Errorf("invalid IP address: %s", ip)
			}
			addrs = append(addrs, a.Unmap())
		}
		ports, perr := bindAll(held, w, addrs)
		if perr != nil {
			return nil, nil, perr
		}
		for i, a := range addrs {
			if ports[i] == 0 {
				continue
			}
			p := PublishedPort{Proto: w.proto, HostIP: a.String(), HostPort: ports[i], ContainerIP: containerIP, ContainerPort: w.cport, IPv6: a.Is6()}
			if p.IPv6 {
				if err := startProxy(held, p); err != nil {
					return nil, nil, err
				}
			}
			out = append(out, p)
		}
	}
	return out, held, nil
}

// bindAll binds the same port on every address, trying each port of w's range (or ephemeral
// ports). An IPv6 [::] companion of an implicit 0.0.0.0 binding is best effort (0 when it fails).
func bindAll(held *Held, w wantPort, addrs []netip.Addr) ([]int, error) {
	tries := 1
	if w.first == 0 {
		tries = 20
	} else if w.last > w.first {
		tries = w.last - w.first + 1
	}
	var lastErr error
	for t := 0; t < tries; t++ {
		port := 0
		if w.first != 0 {
			port = w.first + t
		}
		ports := make([]int, len(addrs))
		var fds []int
		ok := true
		for i, a := range addrs {
			fd, bound, err := bindSocket(w.proto, a, port)
			if err != nil {
				if i > 0 && a.Is6() && w.hostIP == "" && !errors.Is(err, unix.EADDRINUSE) {
					continue // no IPv6 here: serve IPv4 only
				}
				lastErr = allocatedErr(a.String(), port)
				if !errors.Is(err, unix.EADDRINUSE) {
					lastErr = fmt.Errorf("Bind for %s failed: %v", net.JoinHostPort(a.String(), strconv.Itoa(port)), err)
				}
				ok = false
				break
			}
			if port == 0 {
				port = bound
			}
			ports[i] = bound
			fds = append(fds, fd)
		}
		if ok {
			for _, fd := range fds {
				held.closers = append(held.closers, fdCloser(fd))
			}
			return ports, nil
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	return nil, lastErr
}

// startProxy turns the reserved IPv6 TCP socket of p into a listener that forwards connections to
// the container (nftables cannot DNAT IPv6 to an IPv4 container). UDP over IPv6 stays reserved
// but is not forwarded.
func startProxy(held *Held, p PublishedPort) error {
	if p.Proto != "tcp" {
		return nil
	}
	fd := int(held.closers[len(held.closers)-1].(fdCloser))
	if err := unix.Listen(fd, 128); err != nil {
		return fmt.Errorf("listen [%s]:%d: %w", p.HostIP, p.HostPort, err)
	}
	f := os.NewFile(uintptr(fd), "proxy")
	ln, err := net.FileListener(f)
	f.Close() // FileListener dups; the original fd is closed here
	if err != nil {
		return fmt.Errorf("proxy [%s]:%d: %w", p.HostIP, p.HostPort, err)
	}
	i := len(held.closers) - 1
	held.closers[i] = ln
	target := net.JoinHostPort(p.ContainerIP, strconv.Itoa(p.ContainerPort))
	if held.targets == nil {
		held.targets = map[int]string{}
	}
	held.targets[i] = target
	go serveProxy(ln, target)
	return nil
}

// serveProxy forwards the connections of ln to target until ln is closed or its deadline passes.
func serveProxy(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go proxyConn(c, target)
	}
}

func proxyConn(c net.Conn, target string) {
	defer c.Close()
	b, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(b, c)
	go cp(c, b)
	<-done
	<-done
}
