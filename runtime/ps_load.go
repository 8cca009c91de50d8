package runtime

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// psRecord is the part of config.json that ps shows or filters on. Decoding only these fields
// costs about half of decoding a whole Record, which dominates `ps -a` on a large store.
type psRecord struct {
	ID, Name             string
	Created              time.Time
	Image, ImageID, Path string
	Args                 []string
	Config               *struct {
		Image        string
		Labels       map[string]string
		ExposedPorts psPorts
	}
	HostConfig *struct {
		PortBindings nat.PortMap
	}
	Mounts   []container.MountPoint
	Networks map[string]*network.EndpointSettings
}

// psPorts is Config.ExposedPorts ({"80/tcp": {}} in JSON) as a list, which gob can encode.
type psPorts []nat.Port

// UnmarshalJSON reads the port set's keys.
func (p *psPorts) UnmarshalJSON(data []byte) error {
	var set map[nat.Port]json.RawMessage
	if err := json.Unmarshal(data, &set); err != nil {
		return err
	}
	*p = (*p)[:0]
	for port := range set {
		*p = append(*p, port)
	}
	return nil
}

func (p *psRecord) record() Record {
	rec := Record{
		ID: p.ID, Name: p.Name, Created: p.Created, Image: p.Image, ImageID: p.ImageID,
		Path: p.Path, Args: p.Args, Mounts: p.Mounts, Networks: p.Networks,
		Config: &container.Config{}, HostConfig: &container.HostConfig{},
	}
	if p.Config != nil {
		rec.Config.Image, rec.Config.Labels = p.Config.Image, p.Config.Labels
		if len(p.Config.ExposedPorts) > 0 {
			rec.Config.ExposedPorts = nat.PortSet{}
			for _, port := range p.Config.ExposedPorts {
				rec.Config.ExposedPorts[port] = struct{}{}
			}
		}
	}
	if p.HostConfig != nil {
		rec.HostConfig.PortBindings = p.HostConfig.PortBindings
	}
	return rec
}

// listForPs is List for ps: every container newest first, reconciled, with the Record holding
// only what ps uses (see psRecord). Files are read with plain open/read/close (no poller
// registration) by one worker per CPU.
func (r *Runtime) listForPs() ([]*Container, error) {
	list, err := r.ids()
	if err != nil {
		return nil, err
	}
	cache := r.readPsCache()
	// Files are opened relative to the containers folder: the kernel then walks two path
	// components per file instead of the whole --root path (two lookups per container).
	dirfd, err := unix.Open(filepath.Join(r.Layout.Root, "containers"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		defer unix.Close(dirfd)
	} else if len(list) > 0 {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	fresh := make([]*psCacheEntry, len(list))
	out := make([]*Container, len(list))
	errs := make([]error, len(list))
	workers := goruntime.GOMAXPROCS(0)
	if len(list) < 16 {
		workers = 1
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 16<<10)
			for i := w; i < len(list); i += workers {
				out[i], fresh[i], buf, errs[i] = r.loadForPs(dirfd, list[i], cache.Entries[list[i]], buf)
			}
		}(w)
	}
	wg.Wait()
	r.updatePsCache(cache, list, fresh)
	res := out[:0]
	for i, c := range out {
		if errs[i] != nil {
			if errors.Is(errs[i], errdefs.ErrNotFound) {
				continue // being created or removed right now
			}
			return nil, errs[i]
		}
		if needsReconcile(&c.State) {
			nc, err := r.reconcile(c.ID)
			if err != nil {
				continue // removed meanwhile (--rm)
			}
			c = nc
		}
		res = append(res, c)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Created.After(res[j].Created) })
	return res, nil
}

// loadForPs reads one container for ps with the rules of load: no config.json means "being
// created or removed" (not found), no state.json means created. The config part comes from the
// ps cache when config.json is unchanged (same inode, size and modification time); otherwise it
// is decoded and returned as a fresh cache entry. buf is reused (and returned, grown if a file
// did not fit).
func (r *Runtime) loadForPs(dirfd int, id string, cached *psCacheEntry, buf []byte) (*Container, *psCacheEntry, []byte, error) {
	notFound := func() (*Container, *psCacheEntry, []byte, error) {
		return nil, nil, buf, errdefs.NotFound("No such container: " + id)
	}
	// The same files as Layout.ConfigPath and StatePath, relative to the containers folder.
	configPath, statePath := id+"/config.json", id+"/state.json"
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, configPath, &st, 0); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return notFound()
		}
		return nil, nil, buf, fmt.Errorf("read container %s: %w", id, err)
	}
	key := psFileKey{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano()}
	var entry *psCacheEntry
	if cached != nil && cached.Key == key {
		entry = cached
	} else {
		data, nbuf, err := readFileAt(dirfd, configPath, buf)
		buf = nbuf
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return notFound()
			}
			return nil, nil, buf, fmt.Errorf("read container %s: %w", id, err)
		}
		entry = &psCacheEntry{Key: key}
		if err := json.Unmarshal(data, &entry.Rec); err != nil {
			return nil, nil, buf, fmt.Errorf("read container %s: %w", id, err)
		}
	}
	c := &Container{Record: entry.Rec.record()}
	data, buf, err := readFileAt(dirfd, statePath, buf)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &c.State); err != nil {
			return nil, nil, buf, fmt.Errorf("read container %s: %w", id, err)
		}
	case !errors.Is(err, unix.ENOENT):
		return nil, nil, buf, fmt.Errorf("read container %s: %w", id, err)
	}
	if c.State.Status == "" {
		c.State.Status = StatusCreated
	}
	return c, entry, buf, nil
}

// psFileKey identifies one version of a config.json: berth replaces the file by rename, so any
// change gives another inode, and the size and time guard against edits in place.
type psFileKey struct {
	Ino   uint64
	Size  int64
	Mtime int64
}

// psCacheEntry is the decoded ps part of one config.json version.
type psCacheEntry struct {
	Key psFileKey
	Rec psRecord
}

// psCache is the ps cache file (containers/.ps-cache, gob): the decoded ps part of every
// config.json, so that `ps` decodes only the small state.json of unchanged containers. It is a
// cache only: a missing, stale or unreadable one costs a decode, never a wrong answer.
type psCache struct {
	Entries map[string]*psCacheEntry
}

func (r *Runtime) psCachePath() string {
	return filepath.Join(r.Layout.Root, "containers", ".ps-cache")
}

func (r *Runtime) readPsCache() *psCache {
	c := &psCache{Entries: map[string]*psCacheEntry{}}
	data, _, err := readFileInto(r.psCachePath(), make([]byte, 64<<10))
	if err != nil {
		return c
	}
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(c); err != nil || c.Entries == nil {
		return &psCache{Entries: map[string]*psCacheEntry{}}
	}
	return c
}

// updatePsCache rewrites the cache when an entry was added, changed or dropped. Failures are
// ignored (a read-only root, a full disk): the cache is only an accelerator. Concurrent writers
// each rename a complete file into place, so readers never see a torn one.
func (r *Runtime) updatePsCache(old *psCache, ids []string, fresh []*psCacheEntry) {
	next := &psCache{Entries: make(map[string]*psCacheEntry, len(ids))}
	dirty := false
	for i, id := range ids {
		if fresh[i] == nil {
			continue
		}
		next.Entries[id] = fresh[i]
		if old.Entries[id] != fresh[i] {
			dirty = true
		}
	}
	if len(next.Entries) != len(old.Entries) {
		dirty = true
	}
	if !dirty {
		return
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(next); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(r.psCachePath()), ".ps-cache.tmp*")
	if err != nil {
		return
	}
	_, werr := f.Write(b.Bytes())
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), r.psCachePath()) != nil {
		os.Remove(f.Name())
	}
}

// readFileInto reads a whole file into buf (growing it when needed) with open, read and close
// only. It returns the data, the possibly grown buffer and the error.
func readFileInto(path string, buf []byte) ([]byte, []byte, error) {
	return readFileAt(unix.AT_FDCWD, path, buf)
}

// readFileAt is readFileInto for a path relative to dirfd.
func readFileAt(dirfd int, path string, buf []byte) ([]byte, []byte, error) {
	fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, buf, err
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, buf, err
		}
		if m == 0 {
			return buf[:n], buf, nil
		}
		n += m
		if n < len(buf) {
			// A short read of a regular file means end of file: save the extra read.
			return buf[:n], buf, nil
		}
	}
}
