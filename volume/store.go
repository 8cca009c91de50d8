package volume

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
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/lock"
	apivolume "github.com/docker/docker/api/types/volume"
)

// Volume is one volume as stored in volumes/<name>/volume.json.
type Volume struct {
	Name      string
	Driver    string
	CreatedAt time.Time
	Labels    map[string]string
	// Options are the local driver's options (type, device, o), as given at create.
	Options map[string]string
	// Mountpoint is volumes/<name>/_data under the store's root (filled when loaded).
	Mountpoint string `json:"-"`
}

// Anonymous tells whether the volume was made without a name (it carries AnonymousLabel).
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

// API returns the volume in Docker's inspect form.
func (v *Volume) API() apivolume.Volume {
	return apivolume.Volume{
		CreatedAt:  v.CreatedAt.Local().Format(time.RFC3339),
		Driver:     v.Driver,
		Labels:     v.Labels,
		Mountpoint: v.Mountpoint,
		Name:       v.Name,
		Options:    v.Options,
		Scope:      "local",
	}
}

// Store is the volume store under <root>/volumes.
type Store struct {
	// EventsRunRoot is the runroot whose event journal (internal/events) records the volumes
	// the store creates and destroys; "" records nothing.
	EventsRunRoot string

	root string // --root
	dir  string // <root>/volumes
	// held is the store lock taken by Lock, until Unlock.
	held *lock.Lock
}

// Open returns the volume store of the berth root root, creating volumes/ if needed.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open volume store %s: %w", root, err)
	}
	s := &Store{root: abs, dir: filepath.Join(abs, "volumes")}
	if err := os.MkdirAll(s.dir, 0o701); err != nil {
		return nil, fmt.Errorf("open volume store %s: %w", root, err)
	}
	return s, nil
}

// Root is the berth root the store lives in.
func (s *Store) Root() string { return s.root }

// path returns volumes/<name>, refusing names that could escape volumes/.
func (s *Store) path(name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", errdefs.Invalid(err.Error())
	}
	p := filepath.Join(s.dir, name)
	if filepath.Dir(p) != s.dir {
		return "", errdefs.Invalid(fmt.Sprintf("invalid volume name %q", name))
	}
	return p, nil
}

// DataPath is volumes/<name>/_data, the folder containers see.
func (s *Store) DataPath(name string) string { return filepath.Join(s.dir, name, "_data") }

// lock takes the store lock for one change; under Lock it returns nil (a no-op to release).
func (s *Store) lock() (*lock.Lock, error) {
	if s.held != nil {
		return nil, nil
	}
	return lock.Acquire(filepath.Join(s.dir, ".lock"))
}

// Lock holds the store lock until Unlock: nobody else can create, remove or prune a volume
// meanwhile, while s's own methods work as usual. Container creation holds it from making its
// volumes until its config.json names them, so a concurrent prune cannot take them for unused.
func (s *Store) Lock() error {
	if s.held != nil {
		return errors.New("lock volume store: already locked")
	}
	l, err := lock.Acquire(filepath.Join(s.dir, ".lock"))
	if err != nil {
		return fmt.Errorf("lock volume store: %w", err)
	}
	s.held = l
	return nil
}

// Unlock releases the lock Lock took (nothing when s is not locked).
func (s *Store) Unlock() {
	s.held.Release()
	s.held = nil
}

// CreateOptions describe a new volume.
type CreateOptions struct {
	// Name is the volume's name; empty makes an anonymous volume with a 64-hex name.
	Name    string
	Driver  string // "" or "local"
	Labels  map[string]string
	Options map[string]string
}

// Create makes the volume, or returns the existing one of that name (created reports which).
// The volume appears atomically: its folder is assembled under a temporary name and renamed.
func (s *Store) Create(opts CreateOptions) (v *Volume, created bool, err error) {
	anonymous := opts.Name == ""
	if anonymous {
		opts.Name = ids.NewID()
	}
	fail := func(err error) (*Volume, bool, error) {
		var de *errdefs.Error
		if errors.As(err, &de) {
			return nil, false, &errdefs.Error{Kind: de.Kind, Msg: fmt.Sprintf("create %s: %s", opts.Name, de.Msg)}
		}
		return nil, false, fmt.Errorf("create %s: %w", opts.Name, err)
	}
	dir, err := s.path(opts.Name)
	if err != nil {
		return fail(err)
	}
	if opts.Driver != "" && opts.Driver != DefaultDriver {
		return fail(errdefs.NotFound(fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", opts.Driver, opts.Driver)))
	}
	if err := s.validateOptions(opts.Options); err != nil {
		return fail(err)
	}
	l, err := s.lock()
	if err != nil {
		return fail(err)
	}
	defer l.Release()
	if existing, err := s.load(opts.Name); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return fail(err)
	}
	labels := opts.Labels
	if anonymous {
		labels = map[string]string{AnonymousLabel: ""}
		for k, val := range opts.Labels {
			labels[k] = val
		}
	}
	v = &Volume{Name: opts.Name, Driver: DefaultDriver, CreatedAt: time.Now().Truncate(time.Second), Labels: labels, Options: opts.Options}
	tmp, err := os.MkdirTemp(s.dir, ".new-")
	if err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp, 0o701); err != nil {
		os.RemoveAll(tmp)
		return fail(err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err != nil {
		os.RemoveAll(tmp)
		return fail(err)
	}
	if err := atomicfile.WriteJSON(filepath.Join(tmp, "volume.json"), v); err != nil {
		os.RemoveAll(tmp)
		return fail(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fail(err)
	}
	v.Mountpoint = s.DataPath(v.Name)
	events.Record(s.EventsRunRoot, events.Volume, "create", v.Name, map[string]string{"driver": v.Driver})
	return v, true, nil
}

// load reads volumes/<name>/volume.json.
func (s *Store) load(name string) (*Volume, error) {
	dir, err := s.path(name)
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := atomicfile.ReadJSON(filepath.Join(dir, "volume.json"), &v); err != nil {
		if os.IsNotExist(err) {
			return nil, errdefs.NotFound(fmt.Sprintf("get %s: no such volume", name))
		}
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	v.Mountpoint = s.DataPath(v.Name)
	return &v, nil
}

// Get returns the named volume; a missing one is errdefs.NotFound("get NAME: no such volume").
func (s *Store) Get(name string) (*Volume, error) {
	v, err := s.load(name)
	if errors.Is(err, errdefs.ErrInvalid) {
		return nil, errdefs.NotFound(fmt.Sprintf("get %s: no such volume", name))
	}
	return v, err
}

// List returns every volume, sorted by name.
func (s *Store) List() ([]*Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []*Volume
	for _, e := range entries {
		if !e.IsDir() || ValidateName(e.Name()) != nil {
			continue
		}
		v, err := s.load(e.Name())
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list volumes: %w", err)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// containerMounts is the part of containers/<id>/config.json the volume store reads.
type containerMounts struct {
	ID     string
	Mounts []struct {
		Type string
		Name string
	}
}

// Users maps each volume name to the IDs of the containers whose config.json mounts it.
func (s *Store) Users() (map[string][]string, error) {
	dir := filepath.Join(s.root, "containers")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return map[string][]string{}, nil
		}
		return nil, fmt.Errorf("scan containers: %w", err)
	}
	users := map[string][]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "config.json"))
		if err != nil {
			continue // being created or removed
		}
		var c containerMounts
		if err := json.Unmarshal(data, &c); err != nil {
			continue
		}
		if c.ID == "" {
			c.ID = e.Name()
		}
		seen := map[string]bool{}
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name != "" && !seen[m.Name] {
				seen[m.Name] = true
				users[m.Name] = append(users[m.Name], c.ID)
			}
		}
	}
	for _, l := range users {
		sort.Strings(l)
	}
	return users, nil
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force makes a missing volume no error.
	Force bool
	// IgnoreContainer is a container ID whose use of the volume does not count (the container
	// being removed).
	IgnoreContainer string
}

// Remove deletes the volume and its data. A volume some container uses is refused with
// errdefs.Conflict("remove NAME: volume is in use - [ID, ...]").
func (s *Store) Remove(name string, opts RemoveOptions) error {
	l, err := s.lock()
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	defer l.Release()
	v, err := s.Get(name)
	if err != nil {
		if opts.Force && errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		return err
	}
	users, err := s.Users()
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	var refs []string
	for _, id := range users[v.Name] {
		if id != opts.IgnoreContainer {
			refs = append(refs, id)
		}
	}
	if len(refs) > 0 {
		return errdefs.Conflict(fmt.Sprintf("remove %s: volume is in use - [%s]", v.Name, strings.Join(refs, ", ")))
	}
	_, err = s.removeLocked(v)
	return err
}

// removeLocked unmounts and deletes v; the caller holds the store lock. It returns the bytes freed.
func (s *Store) removeLocked(v *Volume) (int64, error) {
	dir, err := s.path(v.Name)
	if err != nil {
		return 0, err
	}
	if err := s.unmountLocked(v); err != nil {
		return 0, fmt.Errorf("remove %s: %w", v.Name, err)
	}
	size := dirSize(filepath.Join(dir, "_data"))
	// Rename first so a half-deleted volume is never listed.
	trash, err := os.MkdirTemp(s.dir, ".rm-")
	if err != nil {
		return 0, fmt.Errorf("remove %s: %w", v.Name, err)
	}
	target := filepath.Join(trash, "v")
	if err := os.Rename(dir, target); err != nil {
		os.Remove(trash)
		return 0, fmt.Errorf("remove %s: %w", v.Name, err)
	}
	events.Record(s.EventsRunRoot, events.Volume, "destroy", v.Name, map[string]string{"driver": v.Driver})
	if err := os.RemoveAll(trash); err != nil {
		return size, fmt.Errorf("remove %s: %w", v.Name, err)
	}
	return size, nil
}

// dirSize sums the sizes of the regular files under dir, counting hard links once.
func dirSize(dir string) int64 {
	var total int64
	seen := map[uint64]bool{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if ino, nlink := inode(fi); nlink > 1 {
			if seen[ino] {
				return nil
			}
			seen[ino] = true
		}
		total += fi.Size()
		return nil
	})
	return total
}

// Size returns the bytes the volume's data holds.
func (s *Store) Size(v *Volume) int64 { return dirSize(v.Mountpoint) }

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// All removes named volumes too; otherwise only anonymous ones go (Docker 23+).
	All bool
	// Labels keep only volumes matching every "key" / "key=value" entry; NotLabels drop volumes
	// matching any entry (label!=).
	Labels    []string
	NotLabels []string
}

// Prune removes the volumes no container uses that opts select, returning their names and the
// bytes freed.
func (s *Store) Prune(opts PruneOptions) (deleted []string, reclaimed int64, err error) {
	l, err := s.lock()
	if err != nil {
		return nil, 0, fmt.Errorf("prune volumes: %w", err)
	}
	defer l.Release()
	vols, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	users, err := s.Users()
	if err != nil {
		return nil, 0, fmt.Errorf("prune volumes: %w", err)
	}
	for _, v := range vols {
		if len(users[v.Name]) > 0 || (!opts.All && !v.Anonymous()) {
			continue
		}
		if !MatchLabels(v.Labels, opts.Labels) {
			continue
		}
		if len(opts.NotLabels) > 0 && matchAnyLabel(v.Labels, opts.NotLabels) {
			continue
		}
		n, err := s.removeLocked(v)
		if err != nil {
			return deleted, reclaimed, err
		}
		deleted = append(deleted, v.Name)
		reclaimed += n
	}
	return deleted, reclaimed, nil
}

// MatchLabels tells whether labels satisfy every filter ("key" or "key=value").
func MatchLabels(labels map[string]string, filters []string) bool {
	for _, f := range filters {
		k, val, hasVal := strings.Cut(f, "=")
		got, ok := labels[k]
		if !ok || (hasVal && got != val) {
			return false
		}
	}
	return true
}

func matchAnyLabel(labels map[string]string, filters []string) bool {
	for _, f := range filters {
		if MatchLabels(labels, []string{f}) {
			return true
		}
	}
	return false
}
