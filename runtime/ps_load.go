package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
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
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var buf []byte
			sh := newPsShared()
			for i := w; i < len(list); i += workers {
				buf = r.loadForPs(dirfd, list[i], olds[i], readAt, &cs[i], sh, &slots[i], buf)
			}
		}(w)
	}
	wg.Wait()

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

// readPsIndex reads the index file of the containers folder dirfd. A missing or damaged one
// reads as empty.
func readPsIndex(dirfd int) []psIndexRow {
	fd, err := unix.Openat(dirfd, psIndexName, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Size < int64(len(psIndexMagic)) || st.Size > 1<<30 {
		return nil
	}
	buf := make([]byte, st.Size)
	for n := 0; n < len(buf); {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			return nil
		}
		n += m
	}
	// The payloads' strings point into the file's contents, which are never changed.
	s := unsafeString(buf)
	d := psDec{s: s}
	if d.raw(len(psIndexMagic)) != psIndexMagic {
		return nil
	}
	count := d.uvarint()
	if d.bad || count > uint64(len(s)) {
		return nil
	}
	out := make([]psIndexRow, count)
	for i := range out {
		e := &out[i]
		e.id = d.str()
		e.dir = d.key()
		e.readAt = d.varint()
		e.payload = d.str()
		if d.bad {
			return nil
		}
	}
	return out
}

// psIndexRow is one entry of the index file with its container's ID.
type psIndexRow struct {
	id string
	psIndexEntry
}

// writePsIndex replaces the index with the entries of slots. Failures are ignored (a read-only
// root, a full disk): the index is only an accelerator.
func writePsIndex(dirfd int, list []string, slots []psSlot) {
	n := 0
	size := len(psIndexMagic) + 10
	for i := range slots {
		if slots[i].entry.payload != "" {
			n++
			size += len(list[i]) + len(slots[i].entry.payload) + 80
		}
	}
	e := psEnc{b: make([]byte, 0, size)}
	e.b = append(e.b, psIndexMagic...)
	e.uvarint(uint64(n))
	for i := range slots {
		s := &slots[i].entry
		if s.payload == "" {
			continue
		}
		e.str(list[i])
		e.key(s.dir)
		e.varint(s.readAt)
		e.str(s.payload)
	}
	var rnd [8]byte
	unix.Getrandom(rnd[:], unix.GRND_NONBLOCK)
	tmp := fmt.Sprintf("%s.tmp-%d-%x", psIndexName, os.Getpid(), rnd)
	fd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	ok := true
	for b := e.b; len(b) > 0; {
		m, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			ok = false
			break
		}
		b = b[m:]
	}
	if unix.Close(fd) != nil || !ok || unix.Renameat(dirfd, tmp, dirfd, psIndexName) != nil {
		unix.Unlinkat(dirfd, tmp, 0)
		return
	}
	unix.Unlinkat(dirfd, psOldCacheName, 0)
}

// encodePsPayload appends what ps uses of a container (rec and st) to b. decodePsPayload reads
// it back. Network endpoints keep only the network ID. The parts that containers often have in
// common (command, config, port bindings, mounts, networks, ports) are sections of their own,
// which a listing decodes once and shares.
func encodePsPayload(b []byte, rec *psRecord, st *State) []byte {
	e := psEnc{b: b}
	e.str(rec.Name)
	e.time(rec.Created)
	e.str(rec.Image)
	e.str(rec.ImageID)
	e.str(rec.Path)
	e.section(func(e *psEnc) {
		e.uvarint(uint64(len(rec.Args)))
		for _, a := range rec.Args {
			e.str(a)
		}
	})
	e.section(func(e *psEnc) {
		if rec.Config == nil {
			return
		}
		e.str(rec.Config.Image)
		e.stringMap(rec.Config.Labels)
		ports := make([]string, 0, len(rec.Config.ExposedPorts))
		for p := range rec.Config.ExposedPorts {
			ports = append(ports, string(p))
		}
		slices.Sort(ports)
		e.uvarint(uint64(len(ports)))
		for _, p := range ports {
			e.str(p)
		}
	})
	e.section(func(e *psEnc) {
		if rec.HostConfig == nil || len(rec.HostConfig.PortBindings) == 0 {
			return
		}
		bindings := map[string][]PortBinding{}
		for p, bs := range rec.HostConfig.PortBindings {
			l := make([]PortBinding, len(bs))
			for i, b := range bs {
				l[i] = PortBinding{HostIP: b.HostIP, HostPort: b.HostPort}
			}
			bindings[string(p)] = l
		}
		e.ports(bindings)
	})
	e.section(func(e *psEnc) {
		for _, m := range rec.Mounts {
			e.str(string(m.Type))
			e.str(m.Name)
			e.str(m.Source)
			e.str(m.Destination)
			e.str(m.Driver)
			e.str(m.Mode)
			e.bool(m.RW)
			e.str(string(m.Propagation))
		}
	})
	e.section(func(e *psEnc) {
		e.networks(len(rec.Networks), func(yield func(name, id string)) {
			for name, ep := range rec.Networks {
				if ep == nil {
					yield(name, "")
				} else {
					yield(name, ep.NetworkID)
				}
			}
		})
	})

	e.str(st.Status)
	e.varint(int64(st.Pid))
	e.uvarint(st.PidStart)
	e.varint(int64(st.MonitorPid))
	e.uvarint(st.MonitorStart)
	e.varint(int64(st.ExitCode))
	e.bool(st.OOMKilled)
	e.str(st.Error)
	e.time(st.StartedAt)
	e.time(st.FinishedAt)
	e.varint(int64(st.RestartCount))
	e.bool(st.ManuallyStopped)
	e.section(func(e *psEnc) {
		e.networks(len(st.Networks), func(yield func(name, id string)) {
			for name, ep := range st.Networks {
				if ep == nil {
					yield(name, "")
				} else {
					yield(name, ep.NetworkID)
				}
			}
		})
	})
	e.section(func(e *psEnc) { e.ports(st.Ports) })
	e.str(st.SandboxKey)
	return e.b
}

// psShared holds the sections one listing worker decoded, by their encoded bytes, so that
// containers with the same command, config, mounts, networks or ports share one decoded value.
// The containers of a listing are read-only: nothing changes these values after decoding.
type psShared struct {
	args   map[string][]string
	config map[string]*container.Config
	host   map[string]*container.HostConfig
	mounts map[string][]container.MountPoint
	nets   map[string]map[string]*network.EndpointSettings
	ports  map[string]map[string][]PortBinding
}

func newPsShared() *psShared {
	return &psShared{
		args: map[string][]string{}, config: map[string]*container.Config{},
		host: map[string]*container.HostConfig{}, mounts: map[string][]container.MountPoint{},
		nets: map[string]map[string]*network.EndpointSettings{}, ports: map[string]map[string][]PortBinding{},
	}
}

// shared returns the decoded value of section sec from cache, decoding it with decode (which
// reports false on a bad section) the first time.
func shared[T any](cache map[string]T, sec string, bad *bool, decode func(d *psDec) T) T {
	if v, ok := cache[sec]; ok {
		return v
	}
	d := psDec{s: sec}
	v := decode(&d)
	if d.bad || d.i != len(d.s) {
		*bad = true
		var zero T
		return zero
	}
	cache[sec] = v
	return v
}

// decodePsPayload fills c from a payload of container id, sharing sections through sh. Maps and
// slices that were empty stay nil; Config is never nil; HostConfig is set only when there are
// port bindings.
func decodePsPayload(p string, id string, c *Container, sh *psShared) error {
	d := psDec{s: p}
	*c = Container{}
	rec := &c.Record
	rec.ID = id
	rec.Name = d.str()
	rec.Created = d.time()
	rec.Image = d.str()
	rec.ImageID = d.str()
	rec.Path = d.str()
	rec.Args = shared(sh.args, d.str(), &d.bad, func(d *psDec) []string {
		n := d.count()
		if n == 0 {
			return nil
		}
		args := make([]string, n)
		for i := range args {
			args[i] = d.str()
		}
		return args
	})
	rec.Config = shared(sh.config, d.str(), &d.bad, func(d *psDec) *container.Config {
		cfg := &container.Config{}
		if d.i == len(d.s) {
			return cfg
		}
		cfg.Image = d.str()
		cfg.Labels = d.stringMap()
		if n := d.count(); n > 0 {
			cfg.ExposedPorts = make(nat.PortSet, n)
			for i := 0; i < n; i++ {
				cfg.ExposedPorts[nat.Port(d.str())] = struct{}{}
			}
		}
		return cfg
	})
	rec.HostConfig = shared(sh.host, d.str(), &d.bad, func(d *psDec) *container.HostConfig {
		if d.i == len(d.s) {
			return nil
		}
		ports := d.ports()
		if len(ports) == 0 {
			return nil
		}
		pm := make(nat.PortMap, len(ports))
		for port, bs := range ports {
			l := make([]nat.PortBinding, len(bs))
			for i, b := range bs {
				l[i] = nat.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort}
			}
			pm[nat.Port(port)] = l
		}
		return &container.HostConfig{PortBindings: pm}
	})
	rec.Mounts = shared(sh.mounts, d.str(), &d.bad, func(d *psDec) []container.MountPoint {
		var mounts []container.MountPoint
		for d.i < len(d.s) && !d.bad {
			mounts = append(mounts, container.MountPoint{
				Type: mount.Type(d.str()), Name: d.str(), Source: d.str(), Destination: d.str(),
				Driver: d.str(), Mode: d.str(), RW: d.bool(), Propagation: mount.Propagation(d.str()),
			})
		}
		return mounts
	})
	rec.Networks = shared(sh.nets, d.str(), &d.bad, (*psDec).networks)

	st := &c.State
	st.Status = d.str()
	st.Pid = int(d.varint())
	st.PidStart = d.uvarint()
	st.MonitorPid = int(d.varint())
	st.MonitorStart = d.uvarint()
	st.ExitCode = int(d.varint())
	st.OOMKilled = d.bool()
	st.Error = d.str()
	st.StartedAt = d.time()
	st.FinishedAt = d.time()
	st.RestartCount = int(d.varint())
	st.ManuallyStopped = d.bool()
	st.Networks = shared(sh.nets, d.str(), &d.bad, (*psDec).networks)
	st.Ports = shared(sh.ports, d.str(), &d.bad, (*psDec).ports)
	st.SandboxKey = d.str()
	if d.bad || d.i != len(d.s) {
		return errors.New("bad ps index entry")
	}
	return nil
}
