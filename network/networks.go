package network

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/lock"
	nettypes "github.com/docker/docker/api/types/network"
)

// CreateOptions are the flags of `network create`.
type CreateOptions struct {
	Name     string
	Driver   string // only "bridge" (the default)
	Subnet   string
	Gateway  string
	IPRange  string
	Internal bool
	Labels   map[string]string
	Options  map[string]string
}

// Create makes a user-defined bridge network and its Linux bridge ("br-<id12>" unless
// -o com.docker.network.bridge.name=... names it).
func (s *Store) Create(o CreateOptions) (*Network, error) {
	if o.Driver == "" {
		o.Driver = DriverBridge
	}
	if o.Driver != DriverBridge {
		return nil, errdefs.NotFound(fmt.Sprintf("plugin %q not found", o.Driver))
	}
	if !validName().MatchString(o.Name) {
		return nil, errdefs.Invalid(fmt.Sprintf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name))
	}
	switch o.Name {
	case ModeBridge, ModeHost, ModeNone, ModeDefault:
		return nil, errdefs.Conflict(fmt.Sprintf("operation is not permitted on predefined %s network ", o.Name))
	}
	n := &Network{ID: ids.NewID(), Name: o.Name, Driver: DriverBridge, Created: time.Now().UTC(), Internal: o.Internal,
		Labels: o.Labels, Options: o.Options, Leases: map[string]*Lease{}}
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	n.Bridge = n.Options[BridgeNameOption]
	if n.Bridge == "" {
		n.Bridge = "br-" + n.ID[:12]
	}
	if len(n.Bridge) > 15 {
		return nil, errdefs.Invalid(fmt.Sprintf("bridge name %q is longer than 15 characters", n.Bridge))
	}
	if (o.Gateway != "" || o.IPRange != "") && o.Subnet == "" {
		return nil, errdefs.Invalid("cannot specify gateway or ip-range without a subnet")
	}
	l, err := s.lockAll()
	if err != nil {
		return nil, err
	}
	defer l.Release()
	if _, err := s.read(o.Name); err == nil {
		return nil, errdefs.Conflict(fmt.Sprintf("network with name %s already exists", o.Name))
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
	var subnet netip.Prefix
	if o.Subnet != "" {
		p, err := netip.ParsePrefix(o.Subnet)
		if err != nil || !p.Addr().Is4() {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid subnet %s : invalid CIDR address: %s", o.Subnet, o.Subnet))
		}
		if p.Bits() > 30 {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid subnet %s: too small", o.Subnet))
		}
		subnet = p.Masked()
		for _, t := range taken {
			if t.Overlaps(subnet) {
				return nil, errdefs.Conflict(fmt.Sprintf("invalid pool request: Pool overlaps with other one on this address space"))
			}
		}
		n.UserSubnet = true
	} else if subnet, err = pickSubnet(defaultPools(), taken); err != nil {
		return nil, err
	}
	n.Subnet = subnet.String()
	gw := subnet.Addr().Next()
	if o.Gateway != "" {
		g, err := netip.ParseAddr(o.Gateway)
		if err != nil || !subnet.Contains(g) {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid gateway %s: not in subnet %s", o.Gateway, subnet))
		}
		gw = g
	}
	n.Gateway = gw.String()
	if o.IPRange != "" {
		r, err := netip.ParsePrefix(o.IPRange)
		if err != nil || !subnet.Contains(r.Masked().Addr()) || r.Bits() < subnet.Bits() {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid ip-range %s: not in subnet %s", o.IPRange, subnet))
		}
		n.IPRange = r.Masked().String()
	}
	n.MTU = defaultRouteMTU()
	if err := s.createBridge(n); err != nil {
		return nil, err
	}
	if err := s.writeConfig(n); err != nil {
		deleteBridge(n)
		return nil, err
	}
	s.event(n, "create", nil)
	return n, nil
}

// Remove deletes a user-defined network and its bridge; it is refused while containers use it.
func (s *Store) Remove(nameOrID string) error {
	n, err := s.Get(nameOrID)
	if err != nil {
		return err
	}
	if n.Predefined() {
		return errdefs.Conflict(fmt.Sprintf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	s.ReapStale()
	l, err := s.lockAll()
	if err != nil {
		return err
	}
	defer l.Release()
	nl, err := s.lockNet(n.Name)
	if err != nil {
		return err
	}
	defer nl.Release()
	if n, err = s.read(n.Name); err != nil {
		return err
	}
	if len(n.Leases) > 0 {
		return errdefs.Conflict(fmt.Sprintf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID))
	}
	if err := deleteBridge(n); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if err := removeFile(s.path(n.Name)); err != nil {
		return err
	}
	removeFile(s.leasesPath(n.Name))
	removeFile(s.lockPath(n.Name))
	removeTableIfUnused()
	s.event(n, "destroy", nil)
	return nil
}

// Prune removes every unused user-defined network whose labels match keep, returning their names.
func (s *Store) Prune(keep func(*Network) bool) ([]string, error) {
	s.ReapStale()
	CollectOrphanBridges()
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, n := range all {
		if n.Predefined() || len(n.Leases) > 0 || (keep != nil && !keep(n)) {
			continue
		}
		if err := s.Remove(n.ID); err != nil {
			if !errors.Is(err, errdefs.ErrConflict) {
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, n.Name)
	}
	return removed, errors.Join(errs...)
}

// Inspect renders n in Docker's network inspect shape. names maps container IDs to names for
// endpoints (the lease names are used when missing).
func (n *Network) Inspect() nettypes.Inspect {
	out := nettypes.Inspect{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		EnableIPv4: true, Internal: n.Internal, Attachable: false,
		IPAM:       nettypes.IPAM{Driver: "default", Options: map[string]string{}, Config: []nettypes.IPAMConfig{}},
		Containers: map[string]nettypes.EndpointResource{},
		Options:    map[string]string{},
		Labels:     map[string]string{},
	}
	if n.Driver == DriverBridge && n.Subnet != "" {
		cfg := nettypes.IPAMConfig{Subnet: n.Subnet, Gateway: n.Gateway, IPRange: n.IPRange}
		out.IPAM.Config = append(out.IPAM.Config, cfg)
	}
	for k, v := range n.Options {
		out.Options[k] = v
	}
	for k, v := range n.Labels {
		out.Labels[k] = v
	}
	var keys []string
	for id := range n.Leases {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		l := n.Leases[id]
		if !l.alive() {
			continue
		}
		bits := 0
		if p, err := prefixOf(n.Subnet); err == nil {
			bits = p.Bits()
		}
		out.Containers[id] = nettypes.EndpointResource{Name: l.Name, EndpointID: l.EndpointID, MacAddress: l.MAC,
			IPv4Address: fmt.Sprintf("%s/%d", l.IP, bits), IPv6Address: ""}
	}
	return out
}
