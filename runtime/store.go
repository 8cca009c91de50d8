package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/lock"
	"golang.org/x/sys/unix"
)

// Runtime is the container store of one --root/--runroot pair. It holds no open resources: every
// call reads the files it needs, so many berth processes can use the same store at once.
type Runtime struct {
	Layout Layout
}

// Container is one container as read from disk: what it was asked to be and what it is now.
// Note that Record and State both have a Networks field: use c.Record.Networks (asked for) or
// c.State.Networks (live endpoints) explicitly.
type Container struct {
	Record
	State
}

// Open returns the runtime for layout l, creating its folders if needed.
func Open(l Layout) (*Runtime, error) {
	if l.Root == "" || l.RunRoot == "" {
		return nil, fmt.Errorf("open runtime: root and runroot must be set")
	}
	// Monitors and sockets outlive the CLI's working directory: keep paths absolute.
	var err error
	if l.Root, err = filepath.Abs(l.Root); err != nil {
		return nil, fmt.Errorf("open runtime: %w", err)
	}
	if l.RunRoot, err = filepath.Abs(l.RunRoot); err != nil {
		return nil, fmt.Errorf("open runtime: %w", err)
	}
	for _, d := range []string{filepath.Join(l.Root, "containers"), l.RunRoot} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("open runtime: %w", err)
		}
	}
	return &Runtime{Layout: l}, nil
}

// IndexLockPath is the lock that serialises name and ID allocation (and images.json changes): it
// is always taken before any container lock.
func (l Layout) IndexLockPath() string { return filepath.Join(l.Root, ".index.lock") }

// lockPath is the per-container lock file. It lives under RunRoot so that a reboot clears it
// together with the processes that could have held it.
func (l Layout) lockPath(id string) string {
	return filepath.Join(l.RunRoot, "locks", id+".lock")
}

// LockIndex takes the store-wide index lock (name and ID allocation).
func (r *Runtime) LockIndex() (*lock.Lock, error) { return lock.Acquire(r.Layout.IndexLockPath()) }

// Lock takes the container's exclusive lock. Every change of its state.json or config.json is
// made while holding it.
func (r *Runtime) Lock(id string) (*lock.Lock, error) { return lock.Acquire(r.Layout.lockPath(id)) }

// SaveState writes the container's state.json atomically (temp file and rename: readers see the
// old or the new state, never a mix). The caller holds the container's lock.
//
// Unlike config.json it is not fsynced: it changes at every start and exit (an fsync costs
// milliseconds on the start path), and a state lost to a power cut is exactly what reconciling on
// read repairs (a "running" container without a live monitor is reported exited).
func (r *Runtime) SaveState(id string, st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state of %s: %w", id, err)
	}
	return writeNoSync(r.Layout.StatePath(id), data)
}

// writeNoSync writes data to a temporary file beside path and renames it over path.
func writeNoSync(path string, data []byte) error {
	tmp := path + ".tmp-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SaveRecord writes the container's config.json atomically. The caller holds the container's lock
// (and the index lock when the name changes).
func (r *Runtime) SaveRecord(rec *Record) error {
	// Compact JSON: ps decodes every config.json, so fewer bytes are faster.
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode config of %s: %w", rec.ID, err)
	}
	return atomicfile.WriteFile(r.Layout.ConfigPath(rec.ID), append(data, '\n'), 0o644)
}

// load reads one container's files without reconciling. A container folder without config.json
// is one being created or removed and reads as not found.
func (r *Runtime) load(id string) (*Container, error) {
	c := &Container{}
	if err := readJSON(r.Layout.ConfigPath(id), &c.Record); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errdefs.NotFound("No such container: " + id)
		}
		return nil, fmt.Errorf("read container %s: %w", id, err)
	}
	if err := readJSON(r.Layout.StatePath(id), &c.State); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read container %s: %w", id, err)
		}
		c.State.Status = StatusCreated
	}
	if c.State.Status == "" {
		c.State.Status = StatusCreated
	}
	return c, nil
}

// readJSON reads a small JSON file with plain system calls (os.Open registers every file with
// the poller, several calls more per file: it shows when ps reads a thousand containers).
func readJSON(path string, v any) error {
	data, err := readSmallFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func readSmallFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	buf := make([]byte, st.Size+1)
	n := 0
	for {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
		if n == len(buf) {
			buf = append(buf, make([]byte, 4096)...)
		}
	}
}

// ids lists the container IDs present under root/containers.
func (r *Runtime) ids() ([]string, error) {
	f, err := os.Open(filepath.Join(r.Layout.Root, "containers"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list containers: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := names[:0]
	for _, n := range names {
		if len(n) == 64 && ids.IsHexPrefix(n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// inWorkers runs work(0) … work(workers-1) on that many goroutines and waits for them all; worker
// w usually takes the items w, w+workers, w+2*workers, ...
func inWorkers(workers int, work func(w int)) {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(w)
		}()
	}
	wg.Wait()
}

// loadAll reads every container, two readers at a time (JSON decoding dominates).
func (r *Runtime) loadAll() ([]*Container, error) {
	list, err := r.ids()
	if err != nil {
		return nil, err
	}
	out := make([]*Container, len(list))
	errs := make([]error, len(list))
	workers := 4
	if len(list) < 32 {
		workers = 1
	}
	inWorkers(workers, func(w int) {
		for i := w; i < len(list); i += workers {
			out[i], errs[i] = r.load(list[i])
		}
	})
	res := out[:0]
	for i, c := range out {
		if errs[i] != nil {
			if errors.Is(errs[i], errdefs.ErrNotFound) {
				continue // being created or removed right now
			}
			return nil, errs[i]
		}
		res = append(res, c)
	}
	return res, nil
}

// List returns every container, newest first, with dead monitors reconciled (a container recorded
// as running whose monitor and init are gone is reported and saved as exited, its leftovers
// released).
func (r *Runtime) List() ([]*Container, error) {
	all, err := r.loadAll()
	if err != nil {
		return nil, err
	}
	for i, c := range all {
		if needsReconcile(&c.State) {
			if nc, err := r.reconcile(c.ID); err == nil {
				all[i] = nc
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	return all, nil
}

// getLocked is Get (which resolves nameOrID and reconciles a dead monitor first), then the
// container's lock, then the container loaded again under it. The caller releases the lock.
func (r *Runtime) getLocked(nameOrID string) (*Container, *lock.Lock, error) {
	c, err := r.Get(nameOrID)
	if err != nil {
		return nil, nil, err
	}
	l, err := r.Lock(c.ID)
	if err != nil {
		return nil, nil, err
	}
	if c, err = r.load(c.ID); err != nil {
		l.Release()
		return nil, nil, err
	}
	return c, l, nil
}

// Get finds a container by full ID, name (with or without a leading "/") or unique ID prefix, as
// Docker does: an exact ID wins, then an exact name, then a prefix. The result is reconciled.
func (r *Runtime) Get(nameOrID string) (*Container, error) {
	id, err := r.Resolve(nameOrID)
	if err != nil {
		return nil, err
	}
	c, err := r.load(id)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, errdefs.NotFound("No such container: " + nameOrID)
		}
		return nil, err
	}
	if needsReconcile(&c.State) {
		return r.reconcile(id)
	}
	return c, nil
}

// Resolve turns a name, full ID or unique ID prefix into a full container ID.
func (r *Runtime) Resolve(nameOrID string) (string, error) {
	notFound := errdefs.NotFound("No such container: " + nameOrID)
	if nameOrID == "" {
		return "", notFound
	}
	if len(nameOrID) == 64 && ids.IsHexPrefix(nameOrID) {
		if _, err := os.Stat(r.Layout.ConfigPath(nameOrID)); err == nil {
			return nameOrID, nil
		}
	}
	name := strings.TrimPrefix(nameOrID, "/")
	if id, ok := r.lookupName(name); ok {
		return id, nil
	}
	if !ids.IsHexPrefix(nameOrID) {
		return "", notFound
	}
	all, err := r.ids()
	if err != nil {
		return "", err
	}
	var match []string
	for _, id := range all {
		if strings.HasPrefix(id, nameOrID) {
			if _, err := os.Stat(r.Layout.ConfigPath(id)); err == nil {
				match = append(match, id)
			}
		}
	}
	switch len(match) {
	case 0:
		return "", notFound
	case 1:
		return match[0], nil
	}
	return "", errdefs.Invalid(fmt.Sprintf("multiple IDs found with provided prefix: %s", nameOrID))
}

// namePath is the name index entry: a symlink root/names/<name> -> container ID. It is created
// with the exclusive semantics of symlink(2) under the index lock, so two creates cannot take the
// same name.
func (l Layout) namePath(name string) string { return filepath.Join(l.Root, "names", name) }

// lookupName returns the ID of the container named name, checking that the index entry still
// matches the record (a crash can leave an entry whose container is gone).
func (r *Runtime) lookupName(name string) (string, bool) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return "", false
	}
	id, err := os.Readlink(r.Layout.namePath(name))
	if err != nil {
		return "", false
	}
	var rec struct{ Name string }
	if err := readJSON(r.Layout.ConfigPath(id), &rec); err != nil || rec.Name != name {
		return "", false
	}
	return id, true
}

// reserveName claims name for id. The caller holds the index lock. A stale entry (its container
// gone or renamed) is taken over; a live one is Docker's conflict error.
func (r *Runtime) reserveName(name, id string) error {
	p := r.Layout.namePath(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o711); err != nil {
		return fmt.Errorf("reserve name %q: %w", name, err)
	}
	if other, ok := r.lookupName(name); ok && other != id {
		return errdefs.Conflict(fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, other))
	}
	os.Remove(p)
	if err := os.Symlink(id, p); err != nil {
		return fmt.Errorf("reserve name %q: %w", name, err)
	}
	return nil
}

// releaseName drops the index entry of name if it still points at id.
func (r *Runtime) releaseName(name, id string) {
	p := r.Layout.namePath(name)
	if cur, err := os.Readlink(p); err == nil && cur == id {
		os.Remove(p)
	}
}

// Rename gives container id the name newName (without "/"), in Docker's words when the name is
// taken or invalid. It takes the index lock and the container's lock itself.
func (r *Runtime) Rename(id, newName string) error {
	newName = strings.TrimPrefix(newName, "/")
	if !validName(newName) {
		return errdefs.Invalid(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", newName))
	}
	il, err := r.LockIndex()
	if err != nil {
		return err
	}
	defer il.Release()
	cl, err := r.Lock(id)
	if err != nil {
		return err
	}
	defer cl.Release()
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if c.Name == newName {
		return errdefs.Invalid(fmt.Sprintf("Renaming a container with the same name as its current name"))
	}
	if err := r.reserveName(newName, id); err != nil {
		return err
	}
	old := c.Name
	c.Record.Name = newName
	if err := r.SaveRecord(&c.Record); err != nil {
		r.releaseName(newName, id)
		return err
	}
	r.releaseName(old, id)
	r.event(&c.Record, "rename", map[string]string{"oldName": "/" + old})
	return nil
}

// validName is Docker's container name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+.
func validName(name string) bool {
	if len(name) < 2 {
		return false
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return false
		}
		if !alnum && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}
