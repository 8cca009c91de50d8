package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// HostEntry is one /etc/hosts line: an address and its names.
type HostEntry struct {
	IP    string
	Names []string
}

// HostsFile is what a container's /etc/hosts is made of.
type HostsFile struct {
	// Self is the container's own entry per network address (IP, hostname[.domain] hostname).
	Self []HostEntry
	// Extra are --add-host entries ("HOST:IP" as stored in HostConfig.ExtraHosts).
	Extra []string
	// Links are --link entries on the default bridge.
	Links []HostEntry
	// Base replaces the default localhost lines (--network host copies the host's file).
	Base []byte
}

// peersMarker starts the part of /etc/hosts that berth keeps current as containers join and
// leave user-defined networks (there is no DNS server: names resolve through this file).
const peersMarker = "# berth: containers on the same networks (kept current by berth)\n"

const defaultHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"

// Render returns the static part of the hosts file, ending with the peers marker.
func (h HostsFile) Render(gateway string) []byte {
	var b bytes.Buffer
	if h.Base != nil {
		b.Write(h.Base)
		if len(h.Base) > 0 && h.Base[len(h.Base)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString(defaultHosts)
	}
	for _, e := range h.Extra {
		name, ip, ok := strings.Cut(e, ":")
		if !ok {
			continue
		}
		if ip == HostGateway {
			ip = gateway
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	for _, e := range h.Links {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, strings.Join(e.Names, " "))
	}
	for _, e := range h.Self {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, strings.Join(e.Names, " "))
	}
	b.WriteString(peersMarker)
	return b.Bytes()
}

// renderPeers is the dynamic tail: one line per other container on a shared user network.
func renderPeers(peers []HostEntry) []byte {
	var b bytes.Buffer
	for _, p := range peers {
		fmt.Fprintf(&b, "%s\t%s\n", p.IP, strings.Join(p.Names, " "))
	}
	return b.Bytes()
}

// rewriteInPlace replaces the content of path without replacing the file (it is bind-mounted
// into running containers, so a rename would not be seen): flock, truncate, write, same inode.
// When static is nil the part up to and including the peers marker is kept.
func rewriteInPlace(path string, static, peers []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if static == nil {
		cur, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("update %s: %w", path, err)
		}
		if i := bytes.Index(cur, []byte(peersMarker)); i >= 0 {
			static = cur[:i+len(peersMarker)]
		} else {
			static = append(cur, []byte(peersMarker)...)
		}
	}
	data := append(append([]byte{}, static...), peers...)
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	return nil
}

// DNSConfig is what a container's resolv.conf is built from.
type DNSConfig struct {
	Servers, Search, Options []string
	// KeepLoopback keeps loopback nameservers (--network host shares the host's loopback).
	KeepLoopback bool
}

// Default public resolvers, used when the host has only loopback ones, as Docker does.
var defaultNameservers = []string{"8.8.8.8", "8.8.4.4"}

// HostResolvConf reads the host's resolv.conf, switching to systemd-resolved's upstream list when
// /etc/resolv.conf points at its 127.0.0.53 stub.
func HostResolvConf() []byte {
	data, _ := os.ReadFile("/etc/resolv.conf")
	if bytes.Contains(data, []byte("127.0.0.53")) {
		if up, err := os.ReadFile("/run/systemd/resolve/resolv.conf"); err == nil {
			return up
		}
	}
	return data
}

// RenderResolvConf builds a container's resolv.conf from the host's and the --dns* options.
func RenderResolvConf(host []byte, c DNSConfig) []byte {
	var servers, search, options, other []string
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				continue
			}
			if a, err := netip.ParseAddr(strings.Split(f[1], "%")[0]); err == nil && a.IsLoopback() && !c.KeepLoopback {
				continue
			}
			servers = append(servers, f[1])
		case "search", "domain":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		default:
			other = append(other, line)
		}
	}
	if len(c.Servers) > 0 {
		servers = c.Servers
	} else if len(servers) == 0 {
		servers = defaultNameservers
	}
	if len(c.Search) > 0 {
		search = c.Search
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(c.Options) > 0 {
		options = c.Options
	}
	var b bytes.Buffer
	for _, l := range other {
		b.WriteString(l + "\n")
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.Bytes()
}
