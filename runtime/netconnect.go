package runtime

import (
	"fmt"
	"github.com/berth-project/berth/internal/lock"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/network"
	nettypes "github.com/docker/docker/api/types/network"
)

// ConnectNetwork attaches a container to a network (`network connect`). A running container gets
// a new interface (eth1, eth2...) at once; a stopped one on its next start.
func (r *Runtime) ConnectNetwork(nameOrID, netName string, asked *nettypes.EndpointSettings) error {
	c, l, s, n, err := r.lockedWithNetwork(nameOrID, netName)
	if err != nil {
		return err
	}
	defer l.Release()
	mode := networkMode(&c.Record)
	switch {
	case mode == network.ModeHost || n.Name == network.ModeHost:
		return errdefs.Invalid("container cannot be disconnected from host network or connected to host network")
	case mode == network.ModeNone || n.Name == network.ModeNone:
		return errdefs.Invalid("container cannot be connected to multiple networks with one of the networks in private (none) mode")
	case strings.HasPrefix(mode, network.ContainerPrefix):
		return errdefs.Invalid("container sharing network namespace with another container or host cannot be connected to any other network")
	}
	if _, ok := c.Record.Networks[n.Name]; ok || mode == n.Name {
		return errdefs.Conflict(fmt.Sprintf("endpoint with name %s already exists in network %s", c.Name, n.Name))
	}
	if asked == nil {
		asked = &nettypes.EndpointSettings{}
	}
	if isUp(&c.State) && c.State.SandboxKey != "" {
		used := map[string]bool{}
		for _, other := range mustList(s) {
			if le := other.Leases[c.ID]; le != nil {
				used[le.IfName] = true
			}
		}
		ifName := ""
		for i := 0; ; i++ {
			if ifName = "eth" + strconv.Itoa(i); !used[ifName] {
				break
			}
		}
		req := network.AttachRequest{ContainerID: c.ID, Name: c.Name, Network: n.Name, NsPath: c.State.SandboxKey,
			IfName: ifName, Aliases: asked.Aliases, MAC: asked.MacAddress, HostsPath: r.Layout.ContainerDir(c.ID) + "/hosts",
			Owner: network.Owner{Pid: c.State.MonitorPid, Start: c.State.MonitorStart}}
		if c.Config != nil {
			req.Hostname = c.Config.Hostname
		}
		if asked.IPAMConfig != nil {
			req.IP = asked.IPAMConfig.IPv4Address
		}
		if n.IsDefaultBridge() {
			req.Links = parseLinks(asked.Links)
		}
		ep, err := s.Attach(req)
		if err != nil {
			return err
		}
		if c.State.Networks == nil {
			c.State.Networks = map[string]*nettypes.EndpointSettings{}
		}
		c.State.Networks[n.Name] = endpointSettings(ep, asked, &c.Record)
		if err := r.SaveState(c.ID, &c.State); err != nil {
			s.Detach(c.ID, n.Name)
			return err
		}
	}
	if c.Record.Networks == nil {
		c.Record.Networks = map[string]*nettypes.EndpointSettings{}
	}
	c.Record.Networks[n.Name] = asked
	if err := r.SaveRecord(&c.Record); err != nil {
		return err
	}
	if isUp(&c.State) {
		return refreshHosts(r.Layout, &c.Record, &c.State)
	}
	return nil
}

// DisconnectNetwork detaches a container from a network (`network disconnect`); a running
// container loses the interface at once.
func (r *Runtime) DisconnectNetwork(nameOrID, netName string, force bool) error {
	c, l, s, n, err := r.lockedWithNetwork(nameOrID, netName)
	if err != nil {
		return err
	}
	defer l.Release()
	mode := networkMode(&c.Record)
	if n.Name == network.ModeHost || mode == network.ModeHost {
		return errdefs.Invalid("container cannot be disconnected from host network or connected to host network")
	}
	_, asked := c.Record.Networks[n.Name]
	_, live := c.State.Networks[n.Name]
	if !asked && !live && mode != n.Name {
		if force {
			return nil
		}
		return errdefs.Invalid(fmt.Sprintf("container %s is not connected to network %s", c.ID[:12], n.Name))
	}
	if err := s.Detach(c.ID, n.Name); err != nil {
		return err
	}
	delete(c.State.Networks, n.Name)
	delete(c.Record.Networks, n.Name)
	if mode == n.Name && c.HostConfig != nil {
		// Docker keeps NetworkMode; the container simply has no endpoint on it any more.
		c.Record.Networks = nonNil(c.Record.Networks)
	}
	if err := r.SaveState(c.ID, &c.State); err != nil {
		return err
	}
	if err := r.SaveRecord(&c.Record); err != nil {
		return err
	}
	if isUp(&c.State) {
		return refreshHosts(r.Layout, &c.Record, &c.State)
	}
	return nil
}

func nonNil(m map[string]*nettypes.EndpointSettings) map[string]*nettypes.EndpointSettings {
	if m == nil {
		return map[string]*nettypes.EndpointSettings{}
	}
	return m
}

func mustList(s *network.Store) []*network.Network {
	all, _ := s.List()
	return all
}

// isUp reports whether the container's process should be running (running, paused, restarting).
func isUp(st *State) bool {
	switch st.Status {
	case StatusRunning, StatusPaused, StatusRestarting:
		return true
	}
	return false
}

// lockedWithNetwork locks the container (see getLocked) and finds the network it is to join or
// leave. On success the caller releases the lock.
func (r *Runtime) lockedWithNetwork(nameOrID, netName string) (*Container, *lock.Lock, *network.Store, *network.Network, error) {
	c, l, err := r.getLocked(nameOrID)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	s, err := network.Open(r.Layout.Root, r.Layout.RunRoot)
	if err == nil {
		var n *network.Network
		if n, err = s.Get(netName); err == nil {
			return c, l, s, n, nil
		}
	}
	l.Release()
	return nil, nil, nil, nil, err
}
