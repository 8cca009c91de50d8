package runtime

import (
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/network"
	"github.com/docker/docker/api/types/container"
	nettypes "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

// This file is the seam between the container life cycle and package network. The monitor calls
// setupNetwork before the container's process starts and teardownNetwork after it exits (and the
// reconciler calls teardownNetwork for containers whose monitor died). Owned by the network work.

// netSetup says how the container's process joins a network namespace.
type netSetup struct {
	// Host means: share the host's network namespace (no CLONE_NEWNET).
	Host bool
	// NsPath, when set, is an existing namespace to join (bridge networks bind-mount theirs under
	// RunRoot/netns/<id>; container:NAME joins the other container's). Empty and !Host means a
	// fresh, empty namespace made by libcontainer (--network none).
	NsPath string
	// Env are the --link variables (ALIAS_PORT_80_TCP..., ALIAS_NAME): the container's own
	// environment comes after them and wins.
	Env []string
}

// heldPorts keeps, in the process that published them (the monitor), the sockets that reserve a
// container's host ports and serve them on IPv6, until teardownNetwork.
var (
	heldMu    sync.Mutex
	heldPorts = map[string][]*network.Held{}
)

func holdPorts(id string, h *network.Held) {
	if h == nil {
		return
	}
	heldMu.Lock()
	heldPorts[id] = append(heldPorts[id], h)
	heldMu.Unlock()
}

// handoverPorts hands the sockets of container id's ports over (see network.Held.Handover);
// resume serves them here again.
func handoverPorts(id string) (socks []network.HeldSocket, resume func(), err error) {
	heldMu.Lock()
	hs := heldPorts[id]
	heldMu.Unlock()
	var resumes []func()
	resume = func() {
		for _, r := range resumes {
			r()
		}
	}
	for _, h := range hs {
		s, r, err := h.Handover()
		if err != nil {
			for _, x := range socks {
				unix.Close(x.FD)
			}
			resume()
			return nil, nil, err
		}
		socks = append(socks, s...)
		resumes = append(resumes, r)
	}
	return socks, resume, nil
}

func releaseHeldPorts(id string) {
	heldMu.Lock()
	hs := heldPorts[id]
	delete(heldPorts, id)
	heldMu.Unlock()
	for _, h := range hs {
		h.Close()
	}
}

// networkMode is the container's --network value with Docker's default applied.
func networkMode(rec *Record) string {
	if rec.HostConfig == nil || rec.HostConfig.NetworkMode == "" || rec.HostConfig.NetworkMode == "default" {
		return network.ModeBridge
	}
	return string(rec.HostConfig.NetworkMode)
}

// attachOrder is the container's networks in interface order: the --network one first (eth0,
// default route, published ports), then the others by name.
func attachOrder(rec *Record) []string {
	mode := networkMode(rec)
	out := []string{mode}
	var rest []string
	for name := range rec.Networks {
		if name != mode && name != network.ModeDefault {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// portsToPublish is HostConfig.PortBindings plus, with -P, every exposed port on a random port.
func portsToPublish(rec *Record) nat.PortMap {
	out := nat.PortMap{}
	if rec.HostConfig != nil {
		for p, b := range rec.HostConfig.PortBindings {
			out[p] = append([]nat.PortBinding(nil), b...)
		}
		if rec.HostConfig.PublishAllPorts && rec.Config != nil {
			for p := range rec.Config.ExposedPorts {
				if len(out[p]) == 0 {
					out[p] = []nat.PortBinding{{}}
				}
			}
		}
	}
	for p, b := range out {
		if len(b) == 0 {
			delete(out, p)
		}
	}
	return out
}

// parseLinks accepts "name:alias" (as typed) and "/name:/ctr/alias" (as Docker stores them).
func parseLinks(links []string) []string {
	var out []string
	for _, l := range links {
		name, alias, _ := strings.Cut(l, ":")
		name = strings.TrimPrefix(name, "/")
		if i := strings.LastIndex(alias, "/"); i >= 0 {
			alias = alias[i+1:]
		}
		if alias == "" {
			alias = name
		}
		out = append(out, name+":"+alias)
	}
	return out
}

// leaseOwner is the process whose life bounds the container's leases: setupNetwork runs in the
// container's monitor, which lives exactly as long as the container (st.MonitorPid is only filled
// after the start, and may be a dead monitor's until then).
func leaseOwner(st *State) network.Owner { return network.Self() }

// endpointSettings is the live EndpointSettings inspect shows for one attachment.
func endpointSettings(ep *network.Endpoint, asked *nettypes.EndpointSettings, rec *Record) *nettypes.EndpointSettings {
	out := &nettypes.EndpointSettings{}
	if asked != nil {
		out = asked.Copy()
	}
	out.NetworkID = ep.Network.ID
	out.EndpointID = ep.Lease.EndpointID
	out.Gateway = ep.Network.Gateway
	out.IPAddress = ep.Lease.IP
	out.IPPrefixLen = ep.PrefixLen
	out.MacAddress = ep.Lease.MAC
	if !ep.Network.IsDefaultBridge() {
		out.DNSNames = append([]string{rec.Name}, out.Aliases...)
		out.DNSNames = append(out.DNSNames, ids.Truncate(rec.ID))
	}
	return out
}

// setupNetwork prepares the container's network before start, records the live endpoints in st
// (Networks, Ports, SandboxKey) and writes hosts, hostname and resolv.conf in the container's folder.
func setupNetwork(l Layout, rec *Record, st *State) (ns netSetup, err error) {
	st.Networks, st.Ports, st.SandboxKey = nil, nil, ""
	mode := networkMode(rec)
	switch {
	case mode == network.ModeHost:
		return netSetup{Host: true}, writeEtcFiles(l, rec, st)
	case strings.HasPrefix(mode, network.ContainerPrefix):
		return joinContainerNetwork(l, rec, st, strings.TrimPrefix(mode, network.ContainerPrefix))
	case mode == network.ModeNone:
		return netSetup{}, writeEtcFiles(l, rec, st)
	}
	s, err := network.Open(l.Root, l.RunRoot)
	if err != nil {
		return netSetup{}, err
	}
	nsPath := l.NetnsPath(rec.ID)
	if err := network.CreateNetns(nsPath); err != nil {
		return netSetup{}, err
	}
	defer func() {
		if err != nil {
			teardownNetwork(l, rec, st)
		}
	}()
	st.SandboxKey = nsPath
	st.Networks = map[string]*nettypes.EndpointSettings{}
	var links []string
	if rec.HostConfig != nil {
		links = parseLinks(rec.HostConfig.Links)
	}
	for i, name := range attachOrder(rec) {
		asked := rec.Networks[name]
		req := network.AttachRequest{
			ContainerID: rec.ID, Name: rec.Name, Network: name, NsPath: nsPath,
			IfName: "eth" + strconv.Itoa(i), DefaultRoute: i == 0,
			HostsPath: l.ContainerDir(rec.ID) + "/hosts", Owner: leaseOwner(st),
		}
		if rec.Config != nil {
			req.Hostname = rec.Config.Hostname
			if i == 0 {
				req.MAC = rec.Config.MacAddress //nolint:staticcheck // still set by older clients
			}
		}
		if asked != nil {
			req.Aliases = asked.Aliases
			if asked.MacAddress != "" {
				req.MAC = asked.MacAddress
			}
			if asked.IPAMConfig != nil {
				req.IP = asked.IPAMConfig.IPv4Address
			}
		}
		if i == 0 {
			req.Ports = portsToPublish(rec)
			if name == network.ModeBridge {
				req.Links = links
			}
		}
		ep, err := s.Attach(req)
		if err != nil {
			return netSetup{}, err
		}
		holdPorts(rec.ID, ep.Held)
		st.Networks[name] = endpointSettings(ep, asked, rec)
		for _, p := range ep.Lease.Ports {
			if st.Ports == nil {
				st.Ports = map[string][]PortBinding{}
			}
			st.Ports[p.Key()] = append(st.Ports[p.Key()], PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)})
		}
	}
	if err := writeEtcFiles(l, rec, st); err != nil {
		return netSetup{}, err
	}
	env, err := linkEnv(l, rec, st, s)
	if err != nil {
		return netSetup{}, err
	}
	return netSetup{NsPath: nsPath, Env: env}, nil
}

// joinContainerNetwork shares another running container's network namespace and files.
func joinContainerNetwork(l Layout, rec *Record, st *State, other string) (netSetup, error) {
	r, err := Open(l)
	if err != nil {
		return netSetup{}, err
	}
	c, err := r.Get(other)
	if err != nil {
		return netSetup{}, err
	}
	if c.ID == rec.ID {
		return netSetup{}, errors.New("cannot join own network")
	}
	if !isUp(&c.State) || c.State.Pid == 0 {
		return netSetup{}, fmt.Errorf("cannot join network of a non running container: %s", other)
	}
	ns := netSetup{}
	switch {
	case networkMode(&c.Record) == network.ModeHost:
		ns.Host = true
	case c.State.SandboxKey != "":
		ns.NsPath = c.State.SandboxKey
	default:
		ns.NsPath = fmt.Sprintf("/proc/%d/ns/net", c.State.Pid)
	}
	st.SandboxKey = ns.NsPath
	if c.Config != nil && rec.Config != nil {
		// As Docker: the container takes the other one's hostname (uname and $HOSTNAME).
		rec.Config.Hostname, rec.Config.Domainname = c.Config.Hostname, c.Config.Domainname
	}
	if err := copyEtcFiles(l, c.ID, rec.ID); err != nil {
		return netSetup{}, err
	}
	return ns, nil
}

// teardownNetwork releases everything setupNetwork made: veth, netns mount, nft rules, IP lease.
// It is idempotent.
func teardownNetwork(l Layout, rec *Record, st *State) error {
	releaseHeldPorts(rec.ID)
	var errs []error
	mode := networkMode(rec)
	if mode != network.ModeHost && !strings.HasPrefix(mode, network.ContainerPrefix) {
		if s, err := network.Open(l.Root, l.RunRoot); err != nil {
			errs = append(errs, err)
		} else if _, err := s.DetachAll(rec.ID, l.NetnsPath(rec.ID)); err != nil {
			errs = append(errs, err)
		}
		if err := network.RemoveNetns(l.NetnsPath(rec.ID)); err != nil {
			errs = append(errs, err)
		}
	}
	st.Networks = nil
	st.Ports = nil
	st.SandboxKey = ""
	return errors.Join(errs...)
}

// validateNetworking rejects at create what Docker's daemon rejects for the network mode (in
// its words) and --link targets that do not exist. cfg is the request's, before the image's
// configuration is merged in.
func (r *Runtime) validateNetworking(cfg *container.Config, hc *container.HostConfig) error {
	mode := hc.NetworkMode
	if mode.IsContainer() {
		switch {
		case cfg.Hostname != "":
			return errdefs.Invalid("conflicting options: hostname and the network mode")
		case len(hc.Links) > 0:
			return errdefs.Invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior")
		case len(hc.DNS) > 0:
			return errdefs.Invalid("conflicting options: dns and the network mode")
		case len(hc.ExtraHosts) > 0:
			return errdefs.Invalid("conflicting options: custom host-to-IP mapping and the network mode")
		case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
			return errdefs.Invalid("conflicting options: port publishing and the container type network mode")
		case len(cfg.ExposedPorts) > 0:
			return errdefs.Invalid("conflicting options: port exposing and the container type network mode")
		}
	}
	if (mode.IsContainer() || mode.IsHost()) && cfg.MacAddress != "" { //nolint:staticcheck // still set by the CLI
		return errdefs.Invalid("conflicting options: mac-address and the network mode")
	}
	if mode.IsHost() && len(hc.Links) > 0 {
		return errdefs.Invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
	}
	for _, l := range parseLinks(hc.Links) {
		name, _, _ := strings.Cut(l, ":")
		if _, err := r.Get(name); err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				return errdefs.Invalid(fmt.Sprintf("could not get container for %s: %v", name, err))
			}
			return fmt.Errorf("could not get container for %s: %w", name, err)
		}
	}
	return nil
}

// hostConfigDNS returns the DNS settings of hc.
func hostConfigDNS(hc *container.HostConfig) network.DNSConfig {
	if hc == nil {
		return network.DNSConfig{}
	}
	return network.DNSConfig{Servers: hc.DNS, Search: hc.DNSSearch, Options: hc.DNSOptions}
}
