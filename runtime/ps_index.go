package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"golang.org/x/sys/unix"
)

// The index file of `ps` (containers/.ps-index): reading, writing and the payload of an entry.
// See ps_load.go for how ps uses it.

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
