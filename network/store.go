package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/lock"
)

// Drivers, as Docker names them.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"
)

// DefaultBridgeName is the Linux bridge of the default "bridge" network of the default store.
const DefaultBridgeName = "berth0"

// BridgeNameOption is the driver option that names a user network's Linux bridge.
const BridgeNameOption = "com.docker.network.bridge.name"

// Network is one network as stored in networks/<name>.json, with its IP leases.
type Network struct {
	ID       string
	Name     string
	Driver   string
	Created  time.Time
	Internal bool              `json:",omitempty"`
	Labels   map[string]string `json:",omitempty"`
	Options  map[string]string `json:",omitempty"`

	// Bridge fields (driver "bridge" only).
	Bridge  string `json:",omitempty"`
	Subnet  string `json:",omitempty"` // CIDR, e.g. 172.17.0.0/16
	Gateway string `json:",omitempty"`
	IPRange string `json:",omitempty"` // CIDR inside Subnet that dynamic leases come from
	MTU     int    `json:",omitempty"`
	// UserSubnet is set when the subnet was given by --subnet (so --ip is allowed).
	UserSubnet bool `json:",omitempty"`

	// Leases are the live endpoints, keyed by container ID. They are kept apart from the
	// configuration, in <runroot>/networks/<name>.json, written without fsync: a lease never
	// outlives its owning process, so after a crash of the machine every lease is stale anyway.
	Leases map[string]*Lease `json:"-"`
}

// Lease is one container's endpoint on a network: its address and everything that was made for
// it on the host, so that it can be undone even after the owning process died.
type Lease struct {
	ContainerID string
	Name        string   // container name, for name resolution
	Hostname    string   `json:",omitempty"`
	Aliases     []string `json:",omitempty"`
	IP          string
	MAC         string
	EndpointID  string
	Veth        string // host side of the veth pair
	IfName      string // name inside the container (eth0, eth1...)
	NsPath      string
	HostsPath   string            `json:",omitempty"`
	Ports       []PublishedPort   `json:",omitempty"`
	OwnerPid    int               `json:",omitempty"`
	OwnerStart  uint64            `json:",omitempty"`
	Static      bool              `json:",omitempty"`
	Links       map[string]string `json:",omitempty"` // alias -> container name (default bridge)
}

// IsDefaultBridge reports whether n is the predefined "bridge" network.
func (n *Network) IsDefaultBridge() bool { return n.Name == ModeBridge && n.Driver == DriverBridge }

// Predefined reports whether n is one of the networks Docker predefines (bridge, host, none).
func (n *Network) Predefined() bool {
	return n.Name == ModeBridge || n.Name == ModeHost || n.Name == ModeNone
}

// Store is the set of networks of one berth root.
type Store struct {
	root      string // <root>/networks
	runRoot   string // <runroot>
	stateRoot string
}

// Open opens the network store under root (--root) and runRoot (--runroot) and makes sure the
// predefined networks exist (their bridge device is made on first use).
func Open(root, runRoot string) (*Store, error) {
	s := &Store{root: filepath.Join(root, "networks"), runRoot: runRoot, stateRoot: root}
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return nil, fmt.Errorf("open network store: %w", err)
	}
	if err := s.ensurePredefined(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.root, name+".json") }
func (s *Store) leasesPath(name string) string {
	return filepath.Join(s.runRoot, "networks", name+".json")
}
func (s *Store) lockPath(name string) string { return filepath.Join(s.root, name+".lock") }

// lockAll serialises network create/remove (name uniqueness, subnet choice).
func (s *Store) lockAll() (*lock.Lock, error) { return lock.Acquire(filepath.Join(s.root, ".lock")) }

// lockNet takes one network's IPAM lock.
func (s *Store) lockNet(name string) (*lock.Lock, error) { return lock.Acquire(s.lockPath(name)) }

func (s *Store) ensurePredefined() error {
	if _, err := os.Stat(s.path(ModeNone)); err == nil {
		return nil
	}
	l, err := s.lockAll()
	if err != nil {
		return err
	}
	defer l.Release()
	for _, p := range []struct{ name, driver string }{{ModeBridge, DriverBridge}, {ModeHost, DriverHost}, {ModeNone, DriverNull}} {
		if _, err := os.Stat(s.path(p.name)); err == nil {
			continue
		}
		n := &Network{ID: ids.NewID(), Name: p.name, Driver: p.driver, Created: time.Now().UTC()}
		if p.driver == DriverBridge {
			n.Options = map[string]string{
				"com.docker.network.bridge.default_bridge":       "true",
				"com.docker.network.bridge.enable_icc":           "true",
				"com.docker.network.bridge.enable_ip_masquerade": "true",
				"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
				"com.docker.network.driver.mtu":                  "1500",
			}
		}
		if err := atomicfile.WriteJSON(s.path(p.name), n); err != nil {
			return fmt.Errorf("create network %s: %w", p.name, err)
		}
	}
	return nil
}

func (s *Store) read(name string) (*Network, error) {
	var n Network
	if err := atomicfile.ReadJSON(s.path(name), &n); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errdefs.NotFound(fmt.Sprintf("network %s not found", name))
		}
		return nil, fmt.Errorf("read network %s: %w", name, err)
	}
	if data, err := os.ReadFile(s.leasesPath(name)); err == nil && len(data) > 0 {
		if err := json.Unmarshal(data, &n.Leases); err != nil {
			return nil, fmt.Errorf("read leases of network %s: %w", name, err)
		}
	}
	if n.Leases == nil {
		n.Leases = map[string]*Lease{}
	}
	return &n, nil
}

// writeConfig stores the network's configuration durably.
func (s *Store) writeConfig(n *Network) error {
	if err := atomicfile.WriteJSON(s.path(n.Name), n); err != nil {
		return fmt.Errorf("write network %s: %w", n.Name, err)
	}
	return nil
}

// write stores the network's leases: a temporary file renamed into place (readers never see a
// partial file), without fsync (see Network.Leases).
func (s *Store) write(n *Network) error {
	p := s.leasesPath(n.Name)
	data, err := json.Marshal(n.Leases)
	if err != nil {
		return fmt.Errorf("write leases of network %s: %w", n.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("write leases of network %s: %w", n.Name, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+n.Name+".tmp*")
	if err != nil {
		return fmt.Errorf("write leases of network %s: %w", n.Name, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), p)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write leases of network %s: %w", n.Name, werr)
	}
	return nil
}

// List returns every network, predefined ones first then by name.
func (s *Store) List() ([]*Network, error) {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var out []*Network
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		n, err := s.read(name)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Predefined() != out[j].Predefined() {
			return out[i].Predefined()
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Get finds a network by exact name, full ID or unique ID prefix, as Docker does.
func (s *Store) Get(nameOrID string) (*Network, error) {
	if nameOrID == "" {
		return nil, errdefs.NotFound("network  not found")
	}
	if validName().MatchString(nameOrID) {
		if n, err := s.read(nameOrID); err == nil {
			return n, nil
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var match []*Network
	for _, n := range all {
		if n.ID == nameOrID {
			return n, nil
		}
		if ids.IsHexPrefix(nameOrID) && strings.HasPrefix(n.ID, nameOrID) {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, errdefs.NotFound(fmt.Sprintf("network %s not found", nameOrID))
	default:
		return nil, errdefs.Invalid(fmt.Sprintf("network %s is ambiguous (%d matches found based on ID prefix)", nameOrID, len(match)))
	}
}

// update runs fn on the network named name under its IPAM lock and writes it back when fn
// returns nil.
func (s *Store) update(name string, fn func(n *Network) error) (*Network, error) {
	l, err := s.lockNet(name)
	if err != nil {
		return nil, err
	}
	defer l.Release()
	n, err := s.read(name)
	if err != nil {
		return nil, err
	}
	if err := fn(n); err != nil {
		return nil, err
	}
	if err := s.write(n); err != nil {
		return nil, err
	}
	return n, nil
}

func removeFile(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}
