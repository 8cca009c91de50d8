package network

import (
	"encoding/binary"
	"fmt"
	"github.com/berth-project/berth/internal/procfs"
	"net"
	"net/netip"
	"os"
)

// prefixOf parses a stored CIDR.
func prefixOf(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: %w", cidr, err)
	}
	return p.Masked(), nil
}

// broadcast returns the last address of an IPv4 prefix.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (^uint32(0) >> p.Bits())
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], v)
	return netip.AddrFrom4(out)
}

// allocateIP picks the address for a new lease on n: the requested one (checked) or the lowest
// free address of the IP range (or subnet), skipping the network, gateway and broadcast addresses
// and the addresses of live leases.
func allocateIP(n *Network, requested string) (netip.Addr, error) {
	subnet, err := prefixOf(n.Subnet)
	if err != nil {
		return netip.Addr{}, err
	}
	gw, _ := netip.ParseAddr(n.Gateway)
	used := map[netip.Addr]bool{gw: true, subnet.Addr(): true, broadcast(subnet): true}
	for _, l := range n.Leases {
		if a, err := netip.ParseAddr(l.IP); err == nil {
			used[a] = true
		}
	}
	if requested != "" {
		if !n.UserSubnet {
			return netip.Addr{}, fmt.Errorf("user specified IP address is supported on user defined networks only")
		}
		a, err := netip.ParseAddr(requested)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Errorf("invalid IPv4 address: %s", requested)
		}
		if !subnet.Contains(a) {
			return netip.Addr{}, fmt.Errorf("no configured subnet or ip-range contain the IP address %s", requested)
		}
		if used[a] {
			return netip.Addr{}, fmt.Errorf("Address already in use")
		}
		return a, nil
	}
	pool := subnet
	if n.IPRange != "" {
		if pool, err = prefixOf(n.IPRange); err != nil {
			return netip.Addr{}, err
		}
	}
	last := broadcast(pool)
	for a := pool.Addr(); a.IsValid() && a.Compare(last) <= 0; a = a.Next() {
		if !used[a] && subnet.Contains(a) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no available IPv4 addresses on this network's address pools: %s (%s)", n.Name, n.ID)
}

// macFor derives Docker's MAC address for an IPv4 address: 02:42 followed by the address.
func macFor(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// Owner identifies the long-lived process that owns a lease (the container's monitor). A lease
// whose owner is gone is stale and is released by the next change to the network.
type Owner struct {
	Pid   int
	Start uint64
}

// Self is the calling process as an Owner.
func Self() Owner { return Owner{Pid: os.Getpid(), Start: procfs.StartTime(os.Getpid())} }

// alive reports whether the lease's owner still runs.
func (l *Lease) alive() bool {
	if l.OwnerPid == 0 {
		return true
	}
	start := procfs.StartTime(l.OwnerPid)
	return start != 0 && (l.OwnerStart == 0 || start == l.OwnerStart)
}
