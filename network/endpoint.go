package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// vethSpec is one veth pair to wire: host end on a bridge, peer inside a namespace.
type vethSpec struct {
	Bridge  string
	HostEnd string
	NsPath  string
	IfName  string
	Addr    netip.Prefix // the container's address with the subnet's prefix length
	Gateway netip.Addr
	MAC     net.HardwareAddr
	MTU     int
	// DefaultRoute adds "default via Gateway" (the first network only).
	DefaultRoute bool
}

// wireVeth creates the veth pair directly with its peer in the namespace and configures the peer:
// address, up, lo up, default route. Everything is undone on failure.
func wireVeth(s vethSpec) (err error) {
	br, err := netlink.LinkByName(s.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", s.Bridge, err)
	}
	nsFd, err := unix.Open(s.NsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", s.NsPath, err)
	}
	defer unix.Close(nsFd)
	mtu := s.MTU
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: s.HostEnd, MTU: mtu, MasterIndex: br.Attrs().Index, Flags: net.FlagUp},
		PeerName:         s.IfName,
		PeerHardwareAddr: s.MAC,
		PeerNamespace:    netlink.NsFd(nsFd),
		PeerMTU:          uint32(mtu),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", s.HostEnd, err)
	}
	defer func() {
		if err != nil {
			if l, e := netlink.LinkByName(s.HostEnd); e == nil {
				netlink.LinkDel(l)
			}
		}
	}()
	// Hairpin lets a container reach its own published port when br_netfilter DNATs bridged frames.
	if err := netlink.LinkSetHairpin(veth, true); err != nil {
		return fmt.Errorf("veth %s hairpin: %w", s.HostEnd, err)
	}
	h, err := netlink.NewHandleAt(netns.NsHandle(nsFd), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", s.NsPath, err)
	}
	defer h.Delete()
	peer, err := h.LinkByName(s.IfName)
	if err != nil {
		return fmt.Errorf("find %s in netns: %w", s.IfName, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: s.Addr.Addr().AsSlice(), Mask: net.CIDRMask(s.Addr.Bits(), 32)}}
	if err := h.AddrAdd(peer, addr); err != nil {
		return fmt.Errorf("address %s on %s: %w", s.Addr, s.IfName, err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("set %s up: %w", s.IfName, err)
	}
	if lo, err := h.LinkByName("lo"); err == nil {
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lo up: %w", err)
		}
	}
	if s.DefaultRoute && s.Gateway.IsValid() {
		r := &netlink.Route{LinkIndex: peer.Attrs().Index, Gw: s.Gateway.AsSlice(), Scope: netlink.SCOPE_UNIVERSE}
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("default route via %s: %w", s.Gateway, err)
		}
	}
	return nil
}

// loUp brings lo up inside a namespace (for --network none made by us, unused by bridge).
func loUp(nsPath string) error {
	nsFd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", nsPath, err)
	}
	defer unix.Close(nsFd)
	h, err := netlink.NewHandleAt(netns.NsHandle(nsFd), unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Delete()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// deleteLink removes a host link by name; a missing one is not an error.
func deleteLink(name string) error {
	if name == "" {
		return nil
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find link %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// writeSysctl sets a /proc/sys value (path relative to /proc/sys).
func writeSysctl(rel, val string) error {
	p := "/proc/sys/" + rel
	cur, err := os.ReadFile(p)
	if err == nil && string(cur) == val+"\n" {
		return nil
	}
	if err := os.WriteFile(p, []byte(val), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", rel, val, err)
	}
	return nil
}
