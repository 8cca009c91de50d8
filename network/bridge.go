package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/lock"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// defaultPools are the subnets tried in order for networks without --subnet, as Docker's
// default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s.
func defaultPools() []netip.Prefix {
	var out []netip.Prefix
	for i := 17; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	return out
}

// pickSubnet returns the first pool that overlaps none of taken.
func pickSubnet(pools, taken []netip.Prefix) (netip.Prefix, error) {
	for _, p := range pools {
		free := true
		for _, t := range taken {
			if p.Overlaps(t) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

// hostRoutes returns the IPv4 destinations routed on the host (default routes excluded).
func hostRoutes() ([]netip.Prefix, error) {
	routes, err := redump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 || a.IsLoopback() {
			continue
		}
		out = append(out, netip.PrefixFrom(a, ones).Masked())
	}
	return out, nil
}

// defaultRouteMTU is the MTU of the link behind the host's default route (1500 without one).
func defaultRouteMTU() int {
	routes, err := redump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_V4) })
	if err == nil {
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() {
				if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().MTU > 0 {
					return l.Attrs().MTU
				}
			}
		}
	}
	return 1500
}

// bridgeAlias tags a bridge berth made with the store and network that own it, so that bridges
// of deleted stores can be found and removed.
func (s *Store) bridgeAlias(n *Network) string { return "berth:" + n.ID + ":" + s.stateRoot }

// ensureBridge makes sure n's Linux bridge exists with its gateway address, sysctls and nftables
// rules. It returns quickly when the bridge is already up.
func (s *Store) ensureBridge(n *Network) error {
	if l, err := netlink.LinkByName(n.Bridge); err == nil {
		if l.Type() != "bridge" {
			return fmt.Errorf("network %s: %s exists and is not a bridge", n.Name, n.Bridge)
		}
		if alias := l.Attrs().Alias; strings.HasPrefix(alias, "berth:") && alias != s.bridgeAlias(n) {
			return fmt.Errorf("network %s: bridge %s belongs to another berth store (%s)", n.Name, n.Bridge, alias)
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			if err := netlink.LinkSetUp(l); err != nil {
				return fmt.Errorf("set %s up: %w", n.Bridge, err)
			}
		}
		return writeSysctl("net/ipv4/ip_forward", "1")
	}
	return s.createBridge(n)
}

func (s *Store) createBridge(n *Network) (err error) {
	subnet, err := prefixOf(n.Subnet)
	if err != nil {
		return err
	}
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil {
		return fmt.Errorf("network %s: invalid gateway %q", n.Name, n.Gateway)
	}
	mtu := n.MTU
	if mtu == 0 {
		mtu = defaultRouteMTU()
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge, MTU: mtu}}
	if err := netlink.LinkAdd(br); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network %s: bridge %s already exists: %w", n.Name, n.Bridge, err)
		}
		return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
	}
	defer func() {
		if err != nil {
			netlink.LinkDel(br)
		}
	}()
	if err := netlink.LinkSetAlias(br, s.bridgeAlias(n)); err != nil {
		return fmt.Errorf("bridge %s alias: %w", n.Bridge, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
	if err := netlink.AddrAdd(br, addr); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, n.Bridge, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("set %s up: %w", n.Bridge, err)
	}
	// 127.0.0.1:PORT is DNATed to containers behind this bridge: the kernel must route loopback
	// sources out of it (only this bridge, never all interfaces).
	if err := writeSysctl("net/ipv4/conf/"+n.Bridge+"/route_localnet", "1"); err != nil {
		return err
	}
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	if err := addNetworkRules(n); err != nil {
		return err
	}
	if err := allowInForeignFirewall(n.Bridge, n.ID); err != nil {
		removeNetworkRules(n.ID)
		return err
	}
	return nil
}

// deleteBridge removes n's bridge, its nftables rules and its accept rules in a foreign FORWARD
// chain.
func deleteBridge(n *Network) error {
	var errs []error
	if err := removeNetworkRules(n.ID); err != nil {
		errs = append(errs, err)
	}
	if err := removeFromForeignFirewall(n.ID); err != nil {
		errs = append(errs, err)
	}
	if err := deleteLink(n.Bridge); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// collectOrphanBridges deletes bridges tagged by berth whose store no longer has the network
// (a test's temporary --root that was deleted, say). Only bridges with berth's alias are touched.
func collectOrphanBridges() {
	links, err := linkList()
	if err != nil {
		return
	}
	for _, l := range links {
		alias := l.Attrs().Alias
		if l.Type() != "bridge" || !strings.HasPrefix(alias, "berth:") {
			continue
		}
		id, root, ok := strings.Cut(strings.TrimPrefix(alias, "berth:"), ":")
		if !ok || id == "" || root == "" {
			continue
		}
		if networkIDExists(root, id) {
			continue
		}
		if len(bridgePorts(l.Attrs().Index, links)) > 0 {
			continue
		}
		deleteBridge(&Network{ID: id, Bridge: l.Attrs().Name})
	}
}

func bridgePorts(index int, links []netlink.Link) []string {
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == index {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// networkIDExists reports whether root's network store still holds a network with this ID.
func networkIDExists(root, id string) bool {
	entries, err := os.ReadDir(filepath.Join(root, "networks"))
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, "networks", e.Name()))
		if err == nil && (strings.Contains(string(data), `"ID": "`+id+`"`) || strings.Contains(string(data), `"ID":"`+id+`"`)) {
			return true
		}
	}
	return false
}

// CollectOrphanBridges removes the bridges (and their nftables rules) that berth made for stores
// that no longer exist on disk, and berth's nftables table once no berth bridge is left. It takes
// the host-wide subnet lock, which every berth creating a bridge holds until its store records it,
// so that a bridge being made is never taken for an orphan.
func CollectOrphanBridges() error {
	l, err := lock.Acquire(subnetLockPath)
	if err != nil {
		return fmt.Errorf("collect orphan bridges: %w", err)
	}
	defer l.Release()
	collectOrphanBridges()
	removeTableIfUnused()
	return nil
}

// removeTableIfUnused deletes berth's nftables table when no bridge of berth exists any more on
// the host (so no network and no published port can need it).
func removeTableIfUnused() {
	links, err := linkList()
	if err != nil {
		return
	}
	for _, l := range links {
		if l.Type() == "bridge" && strings.HasPrefix(l.Attrs().Alias, "berth:") {
			return
		}
	}
	deleteTable()
}
