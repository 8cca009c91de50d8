package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/network"
)

// writeEtcFiles writes the hostname, hosts and resolv.conf files that are bind-mounted into the
// container: its own addresses, --add-host, --link and the containers sharing its user-defined
// networks in hosts; the host's resolvers (loopback ones replaced) or --dns* in resolv.conf.
func writeEtcFiles(l Layout, rec *Record, st *State) error {
	dir := l.ContainerDir(rec.ID)
	hostname := ""
	if rec.Config != nil {
		hostname = rec.Config.Hostname
	}
	if hostname == "" {
		hostname = rec.ID[:12]
	}
	// These files are made again at every start: a temp file and a rename keep them whole for
	// readers, and an fsync (milliseconds on the start path) would protect nothing.
	if err := writeNoSync(filepath.Join(dir, "hostname"), []byte(hostname+"\n")); err != nil {
		return err
	}
	mode := networkMode(rec)
	h, gateway := hostsFor(rec, st)
	dns := hostConfigDNS(rec.HostConfig)
	if mode == network.ModeHost {
		base, err := os.ReadFile("/etc/hosts")
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("read host /etc/hosts: %w", err)
		}
		h.Base = base
		if h.Base == nil {
			h.Base = []byte{}
		}
		dns.KeepLoopback = true
		gateway = "127.0.0.1"
	}
	var s *network.Store
	if mode != network.ModeHost && mode != network.ModeNone {
		var err error
		if s, err = network.Open(l.Root, l.RunRoot); err != nil {
			return err
		}
		h.Links = s.LinkEntries(rec.ID)
	}
	hostsPath := filepath.Join(dir, "hosts")
	if s != nil {
		if err := s.WriteHosts(hostsPath, rec.ID, h, gateway); err != nil {
			return err
		}
	} else if err := writeNoSync(hostsPath, h.Render(gateway)); err != nil {
		return err
	}
	resolv := network.RenderResolvConf(network.HostResolvConf(), dns)
	return writeNoSync(filepath.Join(dir, "resolv.conf"), resolv)
}

// hostsFor builds the static part of a container's hosts file: --add-host entries and its own
// address on each attached network. It returns the first network's gateway (for host-gateway).
func hostsFor(rec *Record, st *State) (network.HostsFile, string) {
	h := network.HostsFile{}
	hostname, domain := "", ""
	if rec.Config != nil {
		hostname, domain = rec.Config.Hostname, rec.Config.Domainname
	}
	if hostname == "" {
		hostname = rec.ID[:12]
	}
	if rec.HostConfig != nil {
		h.Extra = rec.HostConfig.ExtraHosts
	}
	names := []string{hostname}
	if domain != "" {
		names = []string{hostname + "." + domain, hostname}
	}
	gateway := ""
	for _, name := range attachOrder(rec) {
		if ep := st.Networks[name]; ep != nil && ep.IPAddress != "" {
			h.Self = append(h.Self, network.HostEntry{IP: ep.IPAddress, Names: names})
			if gateway == "" {
				gateway = ep.Gateway
			}
		}
	}
	return h, gateway
}

// copyEtcFiles gives a container joining another one's network (--network container:NAME) the
// other container's hosts, hostname and resolv.conf.
func copyEtcFiles(l Layout, from, to string) error {
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		data, err := os.ReadFile(filepath.Join(l.ContainerDir(from), f))
		if err != nil {
			return fmt.Errorf("network container:%s: %w", strings.TrimSpace(from[:12]), err)
		}
		if err := atomicfile.WriteFile(filepath.Join(l.ContainerDir(to), f), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// refreshHosts rewrites a running container's hosts file in place (it is bind-mounted) after its
// networks changed.
func refreshHosts(l Layout, rec *Record, st *State) error {
	s, err := network.Open(l.Root, l.RunRoot)
	if err != nil {
		return err
	}
	h, gateway := hostsFor(rec, st)
	h.Links = s.LinkEntries(rec.ID)
	return s.WriteHosts(filepath.Join(l.ContainerDir(rec.ID), "hosts"), rec.ID, h, gateway)
}
