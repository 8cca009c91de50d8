package network

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/lock"
	"github.com/docker/go-connections/nat"
)

// AttachRequest describes one container joining one bridge network.
type AttachRequest struct {
	ContainerID string
	Name        string // container name (without "/")
	Hostname    string
	Network     string // network name or ID
	NsPath      string // the container's network namespace
	IfName      string // eth0, eth1, ...
	IP          string // --ip
	MAC         string // --mac-address
	Aliases     []string
	Links       []string // --link NAME[:ALIAS], default bridge only
	// Ports are published through this endpoint (the container's first network).
	Ports nat.PortMap
	// DefaultRoute makes this network the container's default route.
	DefaultRoute bool
	// HostsPath is the container's hosts file, kept current with its peers.
	HostsPath string
	Owner     Owner
}

// Endpoint is a wired attachment.
type Endpoint struct {
	Network   *Network
	Lease     *Lease
	PrefixLen int
	// Held keeps the published host ports; the caller closes it when the container stops.
	Held *Held
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// subnetLockPath serialises subnet and bridge-name choices between all berth stores on the host.
const subnetLockPath = "/run/lock/berth-subnets.lock"

// takenSubnets lists what a new network must not overlap: host routes and this store's networks.
func (s *Store) takenSubnets() ([]netip.Prefix, error) {
	taken, err := hostRoutes()
	if err != nil {
		return nil, err
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if p, err := prefixOf(n.Subnet); err == nil && n.Subnet != "" {
			taken = append(taken, p)
		}
	}
	return taken, nil
}

// ensureDefault gives the predefined "bridge" network its subnet and bridge device on first use.
func (s *Store) ensureDefault(n *Network) (*Network, error) {
	if n.Subnet != "" {
		return n, s.ensureBridge(n)
	}
	gl, err := lock.Acquire(subnetLockPath)
	if err != nil {
		return nil, err
	}
	defer gl.Release()
	collectOrphanBridges()
	taken, err := s.takenSubnets()
	if err != nil {
		return nil, err
	}
	subnet, err := pickSubnet(defaultPools(), taken)
	if err != nil {
		return nil, err
	}
	links, err := linkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	exists := map[string]bool{}
	for _, l := range links {
		exists[l.Attrs().Name] = true
	}
	name := DefaultBridgeName
	for i := 1; exists[name]; i++ {
		name = fmt.Sprintf("berth%d", i)
	}
	var out *Network
	_, err = s.update(n.Name, func(cur *Network) error {
		if cur.Subnet != "" { // someone else of this store was faster
			out = cur
			return nil
		}
		cur.Subnet = subnet.String()
		cur.Gateway = subnet.Addr().Next().String()
		cur.Bridge = name
		cur.MTU = defaultRouteMTU()
		cur.Options["com.docker.network.bridge.name"] = name
		cur.Options["com.docker.network.driver.mtu"] = fmt.Sprint(cur.MTU)
		if err := s.createBridge(cur); err != nil {
			return err
		}
		if err := s.writeConfig(cur); err != nil {
			deleteBridge(cur)
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, s.ensureBridge(out)
}

// EnsureDefaultBridge gives the predefined "bridge" network its subnet, gateway and Linux bridge
// now, as Docker's daemon makes docker0 when it starts (berth otherwise makes them on first use),
// and returns the network.
func (s *Store) EnsureDefaultBridge() (*Network, error) {
	n, err := s.Get(ModeBridge)
	if err != nil {
		return nil, err
	}
	if n.Subnet != "" {
		return n, nil
	}
	return s.ensureDefault(n)
}

// Attach wires a container into a bridge network: IP lease, veth pair, published ports, and the
// hosts files of the containers that share the network.
func (s *Store) Attach(req AttachRequest) (ep *Endpoint, err error) {
	n, err := s.Get(req.Network)
	if err != nil {
		return nil, err
	}
	if n.Driver != DriverBridge {
		return nil, errdefs.Invalid(fmt.Sprintf("container cannot be connected to network %s (driver %s)", n.Name, n.Driver))
	}
	if n.IsDefaultBridge() {
		if len(req.Aliases) > 0 {
			return nil, errdefs.Invalid("network-scoped aliases are only supported for user-defined networks")
		}
		if n, err = s.ensureDefault(n); err != nil {
			return nil, err
		}
	} else if err := s.ensureBridge(n); err != nil {
		return nil, err
	}
	s.ReapStale()
	lease := &Lease{
		ContainerID: req.ContainerID, Name: req.Name, Hostname: req.Hostname, Aliases: req.Aliases,
		EndpointID: ids.NewID(), Veth: "veth" + randomHex(7), IfName: req.IfName, NsPath: req.NsPath,
		HostsPath: req.HostsPath, OwnerPid: req.Owner.Pid, OwnerStart: req.Owner.Start, Static: req.IP != "",
	}
	var prefix netip.Prefix
	n, err = s.update(n.Name, func(cur *Network) error {
		if old, ok := cur.Leases[req.ContainerID]; ok {
			if old.alive() {
				return errdefs.Conflict(fmt.Sprintf("endpoint with name %s already exists in network %s", req.Name, cur.Name))
			}
			s.releaseLease(old, true)
			delete(cur.Leases, req.ContainerID)
		}
		ip, err := allocateIP(cur, req.IP)
		if err != nil {
			return err
		}
		subnet, _ := prefixOf(cur.Subnet)
		prefix = netip.PrefixFrom(ip, subnet.Bits())
		lease.IP = ip.String()
		mac := macFor(ip)
		if req.MAC != "" {
			if mac, err = net.ParseMAC(req.MAC); err != nil {
				return errdefs.Invalid(fmt.Sprintf("%s is not a valid mac address", req.MAC))
			}
		}
		lease.MAC = mac.String()
		if cur.IsDefaultBridge() {
			lease.Links, err = resolveLinks(cur, req.Links)
			if err != nil {
				return err
			}
		}
		cur.Leases[req.ContainerID] = lease
		return nil
	})
	if err != nil {
		return nil, err
	}
	var held *Held
	defer func() {
		if err != nil {
			s.Detach(req.ContainerID, n.Name)
			held.Close()
		}
	}()
	mac, _ := net.ParseMAC(lease.MAC)
	gw, _ := netip.ParseAddr(n.Gateway)
	if err := wireVeth(vethSpec{Bridge: n.Bridge, HostEnd: lease.Veth, NsPath: req.NsPath, IfName: req.IfName,
		Addr: prefix, Gateway: gw, MAC: mac, MTU: n.MTU, DefaultRoute: req.DefaultRoute && !n.Internal}); err != nil {
		return nil, err
	}
	ep = &Endpoint{Network: n, Lease: lease, PrefixLen: prefix.Bits()}
	if len(req.Ports) > 0 {
		ports, h, err := reservePorts(req.Ports, lease.IP)
		if err != nil {
			return nil, err
		}
		held, ep.Held = h, h
		if _, err := s.update(n.Name, func(cur *Network) error {
			if l := cur.Leases[req.ContainerID]; l != nil {
				l.Ports = ports
			}
			return nil
		}); err != nil {
			return nil, err
		}
		lease.Ports = ports
		if err := publishNft(ports, false); err != nil {
			return nil, err
		}
	}
	if !n.IsDefaultBridge() {
		s.refreshPeers(n, req.ContainerID)
	}
	s.event(n, "connect", map[string]string{"container": req.ContainerID})
	return ep, nil
}

// resolveLinks turns --link NAME[:ALIAS] into alias -> container name, checking that the linked
// container is running on the default bridge.
func resolveLinks(n *Network, links []string) (map[string]string, error) {
	if len(links) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, l := range links {
		name, alias, _ := strings.Cut(l, ":")
		name = strings.TrimPrefix(name, "/")
		if alias == "" {
			alias = name
		}
		alias = strings.TrimPrefix(alias[strings.LastIndex(alias, "/")+1:], "/")
		found := false
		for _, le := range n.Leases {
			if le.Name == name || le.ContainerID == name || (len(name) >= 3 && strings.HasPrefix(le.ContainerID, name)) {
				found = le.alive()
				break
			}
		}
		if !found {
			return nil, errdefs.Invalid(fmt.Sprintf("could not get container for %s", name))
		}
		out[alias] = name
	}
	return out, nil
}

// Detach removes a container's endpoint from a network (`network disconnect`): published ports,
// veth, lease, and its entry in its peers' hosts files. A missing endpoint is not an error.
func (s *Store) Detach(containerID, network string) error {
	return s.detach(containerID, network, true)
}

func (s *Store) detach(containerID, network string, deleteVeth bool) error {
	n, err := s.Get(network)
	if err != nil {
		return err
	}
	var lease *Lease
	n, err = s.update(n.Name, func(cur *Network) error {
		lease = cur.Leases[containerID]
		delete(cur.Leases, containerID)
		return nil
	})
	if err != nil {
		return err
	}
	if lease == nil {
		return nil
	}
	err = s.releaseLease(lease, deleteVeth)
	s.event(n, "disconnect", map[string]string{"container": containerID})
	if !n.IsDefaultBridge() {
		s.refreshPeers(n, "")
	}
	return err
}

// releaseLease undoes what a lease made on the host (not the lease entry itself). Without
// deleteVeth the veth is left to die with the container's namespace, which the caller removes:
// deleting a veth waits for an RCU grace period (15-40 ms here), a namespace going away does not
// make anybody wait.
func (s *Store) releaseLease(l *Lease, deleteVeth bool) error {
	var errs []error
	if err := publishNft(l.Ports, true); err != nil {
		errs = append(errs, err)
	}
	if deleteVeth {
		if err := deleteLink(l.Veth); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DetachAll removes the container from every network it is attached to, then removes its
// network namespace nsPath (which takes the container ends, and so the veth pairs, with it).
// With an empty nsPath the veths are deleted one by one. It returns the networks left.
func (s *Store) DetachAll(containerID, nsPath string) ([]string, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	for _, n := range all {
		if _, ok := n.Leases[containerID]; !ok {
			continue
		}
		names = append(names, n.Name)
		if err := s.detach(containerID, n.Name, nsPath == ""); err != nil {
			errs = append(errs, err)
		}
	}
	if nsPath != "" {
		if err := RemoveNetns(nsPath); err != nil {
			errs = append(errs, err)
		}
	}
	return names, errors.Join(errs...)
}

// ReapStale releases the leases whose owning process is gone (a monitor killed with -9, a reboot)
// and removes their network namespaces.
func (s *Store) ReapStale() {
	all, err := s.List()
	if err != nil {
		return
	}
	for _, n := range all {
		for id, l := range n.Leases {
			if l.alive() {
				continue
			}
			ours := strings.HasPrefix(l.NsPath, s.runRoot+"/")
			s.detach(id, n.Name, !ours)
			if ours {
				RemoveNetns(l.NsPath)
			}
		}
	}
}

// Peers returns the hosts entries of the containers sharing a user-defined network with
// containerID (name, aliases, short ID), sorted by network then address.
func (s *Store) Peers(containerID string) []HostEntry {
	all, err := s.List()
	if err != nil {
		return nil
	}
	var out []HostEntry
	for _, n := range all {
		if n.IsDefaultBridge() || n.Driver != DriverBridge {
			continue
		}
		if _, ok := n.Leases[containerID]; !ok {
			continue
		}
		var ips []string
		for id := range n.Leases {
			ips = append(ips, id)
		}
		sort.Slice(ips, func(i, j int) bool { return n.Leases[ips[i]].IP < n.Leases[ips[j]].IP })
		for _, id := range ips {
			l := n.Leases[id]
			if id == containerID || !l.alive() {
				continue
			}
			names := append([]string{l.Name}, l.Aliases...)
			names = append(names, ids.Truncate(l.ContainerID))
			if l.Hostname != "" && l.Hostname != ids.Truncate(l.ContainerID) && l.Hostname != l.Name {
				names = append(names, l.Hostname)
			}
			out = append(out, HostEntry{IP: l.IP, Names: names})
		}
	}
	return out
}

// Links returns a container's --link aliases on the default bridge (alias -> container name).
func (s *Store) Links(containerID string) map[string]string {
	n, err := s.Get(ModeBridge)
	if err != nil {
		return nil
	}
	if me := n.Leases[containerID]; me != nil {
		return me.Links
	}
	return nil
}

// LinkEntries returns the hosts entries for a container's --link aliases on the default bridge.
func (s *Store) LinkEntries(containerID string) []HostEntry {
	n, err := s.Get(ModeBridge)
	if err != nil {
		return nil
	}
	me := n.Leases[containerID]
	if me == nil || len(me.Links) == 0 {
		return nil
	}
	var aliases []string
	for a := range me.Links {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	var out []HostEntry
	for _, alias := range aliases {
		name := me.Links[alias]
		for _, l := range n.Leases {
			if l.Name == name {
				names := []string{alias}
				if alias != name {
					names = append(names, name)
				}
				names = append(names, ids.Truncate(l.ContainerID))
				out = append(out, HostEntry{IP: l.IP, Names: names})
			}
		}
	}
	return out
}

// refreshPeers rewrites the peers part of the hosts file of every container on n except skip.
func (s *Store) refreshPeers(n *Network, skip string) {
	for id, l := range n.Leases {
		if id == skip || l.HostsPath == "" || !l.alive() {
			continue
		}
		rewriteInPlace(l.HostsPath, nil, renderPeers(s.Peers(id)))
	}
}

// WriteHosts writes a container's hosts file in place: the static part and its current peers.
// The peers marker is only written for containers on a user-defined network.
func (s *Store) WriteHosts(path, containerID string, h HostsFile, gateway string) error {
	static := h.Render(gateway)
	if !s.onUserNetwork(containerID) {
		static = bytes.TrimSuffix(static, []byte(peersMarker))
	}
	return rewriteInPlace(path, static, renderPeers(s.Peers(containerID)))
}

// onUserNetwork reports whether the container has an endpoint on a user-defined network.
func (s *Store) onUserNetwork(containerID string) bool {
	all, err := s.List()
	if err != nil {
		return false
	}
	for _, n := range all {
		if _, ok := n.Leases[containerID]; ok && !n.Predefined() {
			return true
		}
	}
	return false
}
