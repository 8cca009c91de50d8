package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/errdefs"
)

// `ps` on a large store: what ps shows of a container (see encodePsPayload) is kept in one cache
// file, containers/.ps-index, keyed by the stat of the container's folder when it was read.
// berth replaces config.json and state.json only by writing a temporary file beside them and
// renaming it (SaveRecord, SaveState), and every such rename changes the folder's modification
// and change times. A listing then costs, per container, one fstatat (system calls are dear: a
// few microseconds each on a virtual machine) and a small binary decode; the JSON files are read
// only for containers whose folder changed. Running containers are still checked for a live
// monitor (reconcile on read) on every listing.
//
// The cache is an accelerator only: it is written without locks (each writer renames a complete
// file into place), a missing, stale, damaged or foreign one costs a JSON read, never a wrong
// answer, and a container without an entry (one created by an older berth) is read from its
// JSON files as before.

const (
	psIndexName  = ".ps-index"
	psIndexMagic = "berth ps index 3\n"
	// psOldCacheName is the gob cache of earlier versions, removed when the index is written.
	psOldCacheName = ".ps-cache"
)

// psRacyWindow: an entry is trusted only when its folder last changed this long before it was
// read. File times come from a coarse clock (a tick, or a second on some file systems): a
// change made within the same tick as the read can keep the folder's times. A change made after
// the read always has later times than ones that old, so equal keys mean equal contents. (A
// variable for tests.)
var psRacyWindow = int64(2 * time.Second)

// psFileKey identifies one version of a container's folder: any entry created, renamed or
// removed in it changes its modification and change times.
type psFileKey struct {
	Ino   uint64
	Size  int64
	Mtime int64
	Ctime int64
}

func psKeyOf(st *unix.Stat_t) psFileKey {
	return psFileKey{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}

// psIndexEntry is one container's entry of the index file as read: the key of the folder it was
// read from, when it was read, and the encoded payload.
type psIndexEntry struct {
	dir     psFileKey
	readAt  int64
	payload string
}

// trusted tells whether e describes the folder with key dir.
func (e *psIndexEntry) trusted(dir psFileKey) bool {
	return e.dir == dir && dir.Mtime < e.readAt-psRacyWindow && dir.Ctime < e.readAt-psRacyWindow
}

// psSlot is one container's outcome of a listing.
type psSlot struct {
	entry psIndexEntry // the entry to keep in the index (payload empty: none)
	fresh bool         // entry was made now (the index must be rewritten)
	err   error
}

// listForPs is List for ps: every container newest first, reconciled, with the Record holding
// only what ps uses (see encodePsPayload).
func (r *Runtime) listForPs() ([]*Container, error) {
	// Files are opened relative to the containers folder: the kernel then walks two path
	// components per file instead of the whole --root path.
	dirfd, err := unix.Open(r.Layout.Root+"/containers", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("list containers: %w", err)
	}
	defer unix.Close(dirfd)
	list, err := readContainerIDs(dirfd)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	index := readPsIndex(dirfd)
	readAt := time.Now().UnixNano()
	// The index lists the containers in the order of the last listing's folder read, the same
	// order as now unless containers came or went.
	olds := make([]*psIndexEntry, len(list))
	var byID map[string]*psIndexEntry
	for i, id := range list {
		if i < len(index) && index[i].id == id {
			olds[i] = &index[i].psIndexEntry
			continue
		}
		if byID == nil {
			byID = make(map[string]*psIndexEntry, len(index))
			for j := range index {
				byID[index[j].id] = &index[j].psIndexEntry
			}
		}
		olds[i] = byID[id]
	}

	cs := make([]Container, len(list))
	slots := make([]psSlot, len(list))
	workers := goruntime.GOMAXPROCS(0)
	if len(list) < 64 {
		workers = 1
	}
	inWorkers(workers, func(w int) {
		var buf []byte
		sh := newPsShared()
		for i := w; i < len(list); i += workers {
			buf = r.loadForPs(dirfd, list[i], olds[i], readAt, &cs[i], sh, &slots[i], buf)
		}
	})

	res := make([]*Container, 0, len(list))
	dirty, kept := false, 0
	for i := range list {
		s := &slots[i]
		if s.entry.payload != "" {
			kept++
		}
		dirty = dirty || s.fresh
		if s.err != nil {
			if errors.Is(s.err, errdefs.ErrNotFound) {
				continue // being created or removed right now
			}
			return nil, s.err
		}
		c := &cs[i]
		if needsReconcile(&c.State) {
			nc, err := r.reconcile(c.ID)
			if err != nil {
				continue // removed meanwhile (--rm)
			}
			c = nc
		}
		res = append(res, c)
	}
	if dirty || kept != len(index) {
		writePsIndex(dirfd, list, slots)
	}
	slices.SortStableFunc(res, func(a, b *Container) int { return b.Created.Compare(a.Created) })
	return res, nil
}

// loadForPs fills c with container id for ps, from the index entry old when
// the container's folder is unchanged, else from its files (with the rules of load: no
// config.json is "being created or removed", not found; no state.json is created), sharing
// decoded sections through sh. The outcome goes to slot. buf is a read buffer, returned for reuse.
func (r *Runtime) loadForPs(dirfd int, id string, old *psIndexEntry, readAt int64, c *Container, sh *psShared, slot *psSlot, buf []byte) []byte {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, id, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			slot.err = errdefs.NotFound("No such container: " + id)
		} else {
			slot.err = fmt.Errorf("read container %s: %w", id, err)
		}
		return buf
	}
	key := psKeyOf(&st)
	if old != nil && old.trusted(key) && decodePsPayload(old.payload, id, c, sh) == nil {
		slot.entry = *old
		return buf
	}
	// The folder was stat'ed before the files are read: a change made meanwhile shows as a
	// changed folder next time.
	entry := psIndexEntry{dir: key, readAt: readAt}
	var rec psRecord
	data, buf, err := readFileAt(dirfd, id+"/config.json", buf)
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			slot.err = errdefs.NotFound("No such container: " + id)
		} else {
			slot.err = fmt.Errorf("read container %s: %w", id, err)
		}
		return buf
	}
	var state State
	data, buf, err = readFileAt(dirfd, id+"/state.json", buf)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &state); err != nil {
			slot.err = fmt.Errorf("read container %s: %w", id, err)
			return buf
		}
	case !errors.Is(err, unix.ENOENT):
		slot.err = fmt.Errorf("read container %s: %w", id, err)
		return buf
	}
	if state.Status == "" {
		state.Status = StatusCreated
	}
	// The container is shown from its encoded form, as it will be from the index next time.
	entry.payload = string(encodePsPayload(nil, &rec, &state))
	if err := decodePsPayload(entry.payload, id, c, sh); err != nil {
		slot.err = fmt.Errorf("read container %s: %w", id, err)
		return buf
	}
	slot.entry, slot.fresh = entry, true
	return buf
}

// psRecord is the part of config.json that ps shows or filters on.
type psRecord struct {
	ID, Name             string
	Created              time.Time
	Image, ImageID, Path string
	Args                 []string
	Config               *struct {
		Image        string
		Labels       map[string]string
		ExposedPorts map[nat.Port]struct{}
	}
	HostConfig *struct {
		PortBindings nat.PortMap
	}
	Mounts   []container.MountPoint
	Networks map[string]*psEndpoint
}

// psEndpoint is what ps uses of a network endpoint: the network's ID (the network filter).
type psEndpoint struct {
	NetworkID string
}

// readContainerIDs lists the container IDs in the containers folder dirfd (as ids does).
func readContainerIDs(dirfd int) ([]string, error) {
	if _, err := unix.Seek(dirfd, 0, 0); err != nil {
		return nil, err
	}
	buf := make([]byte, 32<<10)
	// The IDs are gathered in one block and cut from it as strings (one allocation).
	var names []byte
	for {
		n, err := unix.ReadDirent(dirfd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			all := unsafeString(names)
			out := make([]string, len(all)/64)
			for i := range out {
				out[i] = all[i*64 : i*64+64]
			}
			return out, nil
		}
		b := buf[:n]
		for len(b) >= 19 {
			// struct linux_dirent64: ino u64, off s64, reclen u16, type u8, name NUL-terminated.
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				return nil, errors.New("bad directory entry")
			}
			name := b[19:reclen]
			if len(name) > 64 && name[64] == 0 && isHexBytes(name[:64]) {
				names = append(names, name[:64]...)
			}
			b = b[reclen:]
		}
	}
}

func isHexBytes(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// readFileAt reads the file path (relative to dirfd) into buf, grown when needed, with open,
// read and close only. It returns the data and the buffer.
func readFileAt(dirfd int, path string, buf []byte) ([]byte, []byte, error) {
	fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, buf, err
	}
	defer unix.Close(fd)
	if len(buf) < 16<<10 {
		buf = make([]byte, 16<<10)
	}
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
