package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/volume"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// This file is the seam between the container life cycle and package volume. Owned by the volume
// work.

// openVolumes opens the volume store of l's root, recording its volume events in l's runroot.
func (l Layout) openVolumes() (*volume.Store, error) {
	store, err := volume.Open(l.Root)
	if err != nil {
		return nil, err
	}
	store.EventsRunRoot = l.RunRoot
	return store, nil
}

// planMounts is called once at create, after rec.Config and rec.HostConfig are filled (Binds,
// Mounts, Tmpfs, VolumesFrom) and the image's VOLUME entries are known: it creates named and
// anonymous volumes and fills rec.Mounts in Docker's inspect form.
//
// The order is Docker's: --volumes-from first, then -v binds and --mount replace mounts at the
// same destination, then every Config.Volumes entry (image VOLUMEs, which are merged into
// rec.Config.Volumes as Docker does, and anonymous -v targets) that nothing else mounts becomes a
// new anonymous volume. On error, the volumes this call created are removed again.
//
// From its first volume on, the volume store stays locked until the caller calls unlock, which it
// does once config.json names the volumes: until then a concurrent `volume prune` or `volume rm`
// would see them unused. A container without volumes takes no lock.
func planMounts(l Layout, rec *Record, imageVolumes map[string]struct{}) (unlock func(), err error) {
	store, err := l.openVolumes()
	if err != nil {
		return nil, err
	}
	locked := false
	var created []string
	defer func() {
		if err != nil {
			for _, name := range created {
				store.Remove(name, volume.RemoveOptions{Force: true, IgnoreContainer: rec.ID})
			}
			store.Unlock()
		}
	}()
	return store.Unlock, fillMounts(l, rec, imageVolumes, func(opts volume.CreateOptions) (*volume.Volume, error) {
		if !locked {
			if err := store.Lock(); err != nil {
				return nil, err
			}
			locked = true
		}
		v, isNew, err := store.Create(opts)
		if err != nil {
			return nil, err
		}
		if isNew {
			created = append(created, v.Name)
		}
		return v, nil
	})
}

// fillMounts is planMounts' work, with getVolume creating (or finding) volumes.
func fillMounts(l Layout, rec *Record, imageVolumes map[string]struct{}, getVolume func(volume.CreateOptions) (*volume.Volume, error)) error {
	hc := rec.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if len(imageVolumes) > 0 {
		if rec.Config == nil {
			rec.Config = &container.Config{}
		}
		if rec.Config.Volumes == nil {
			rec.Config.Volumes = map[string]struct{}{}
		}
		for dest := range imageVolumes {
			rec.Config.Volumes[dest] = struct{}{}
		}
	}

	mounts := map[string]container.MountPoint{}
	tmpfsFrom := map[string]string{} // options of the tmpfs mounts --volumes-from takes

	// 1. --volumes-from: every mount of the other container, never copied up.
	for _, spec := range hc.VolumesFrom {
		ref, mode, err := volume.ParseVolumesFrom(spec)
		if err != nil {
			return err
		}
		other, err := readOtherRecord(l, ref)
		if err != nil {
			return err
		}
		for _, m := range other.Mounts {
			if m.Type == mount.TypeTmpfs {
				if opts := tmpfsOptionsOf(other, m.Destination); opts != "" {
					tmpfsFrom[m.Destination] = opts
				}
			}
			mounts[m.Destination] = container.MountPoint{
				Type:        m.Type,
				Name:        m.Name,
				Source:      m.Source,
				Destination: m.Destination,
				Driver:      m.Driver,
				RW:          m.RW && !volume.ModeReadOnly(mode),
				Propagation: m.Propagation,
			}
		}
	}

	// 2. -v binds, named and anonymous volumes.
	userDest := map[string]bool{}
	for _, b := range hc.Binds {
		s, err := volume.ParseVolume(b)
		if err != nil {
			return err
		}
		if userDest[s.Target] {
			return errdefs.Invalid("Duplicate mount point: " + s.Target)
		}
		userDest[s.Target] = true
		mp := container.MountPoint{
			Type:        s.Type,
			Destination: s.Target,
			Mode:        s.Mode,
			RW:          !s.ReadOnly,
		}
		if s.Type == mount.TypeBind {
			if _, err := os.Stat(s.Source); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(s.Source, 0o755); err != nil {
					return fmt.Errorf("create bind source %s: %w", s.Source, err)
				}
			}
			mp.Source = s.Source
			mp.Propagation = s.Propagation
		} else {
			v, err := getVolume(volume.CreateOptions{Name: s.Source})
			if err != nil {
				return err
			}
			mp.Name, mp.Source, mp.Driver = v.Name, v.Mountpoint, v.Driver
			if mp.Mode == "" {
				mp.Mode = "z"
			}
		}
		mounts[mp.Destination] = mp
	}

	// 3. --mount.
	for _, m := range hc.Mounts {
		if err := volume.ValidateMount(m); err != nil {
			return err
		}
		dest := path.Clean(m.Target)
		if userDest[dest] {
			return errdefs.Invalid("Duplicate mount point: " + dest)
		}
		userDest[dest] = true
		mp := container.MountPoint{Type: m.Type, Destination: dest, RW: !m.ReadOnly}
		switch m.Type {
		case mount.TypeBind:
			mp.Source = path.Clean(m.Source)
			mp.Propagation = volume.DefaultPropagation
			if m.BindOptions != nil && m.BindOptions.Propagation != "" {
				mp.Propagation = m.BindOptions.Propagation
			}
		case mount.TypeVolume:
			opts := volume.CreateOptions{Name: m.Source}
			if vo := m.VolumeOptions; vo != nil {
				opts.Labels = vo.Labels
				if vo.DriverConfig != nil {
					opts.Driver, opts.Options = vo.DriverConfig.Name, vo.DriverConfig.Options
				}
			}
			v, err := getVolume(opts)
			if err != nil {
				return err
			}
			mp.Name, mp.Source, mp.Driver, mp.Mode = v.Name, v.Mountpoint, v.Driver, "z"
		}
		mounts[dest] = mp
	}

	// 4. --tmpfs: checked here, mounted at start; Docker lists them in HostConfig.Tmpfs only.
	for dest, opts := range hc.Tmpfs {
		target, _, err := volume.ParseTmpfs(dest + ":" + opts)
		if err != nil {
			return err
		}
		if userDest[target] {
			return errdefs.Invalid("Duplicate mount point: " + target)
		}
		userDest[target] = true
	}

	// 5. Config.Volumes (image VOLUMEs and -v /path) not mounted otherwise: anonymous volumes.
	if rec.Config != nil {
		dests := make([]string, 0, len(rec.Config.Volumes))
		for d := range rec.Config.Volumes {
			dests = append(dests, d)
		}
		sort.Strings(dests)
		for _, d := range dests {
			dest := path.Clean("/" + d)
			if dest == "/" {
				return errdefs.Invalid("invalid specification: destination can't be '/'")
			}
			if _, ok := mounts[dest]; ok || userDest[dest] {
				continue
			}
			v, err := getVolume(volume.CreateOptions{})
			if err != nil {
				return err
			}
			mounts[dest] = container.MountPoint{
				Type: mount.TypeVolume, Name: v.Name, Source: v.Mountpoint, Destination: dest,
				Driver: v.Driver, RW: true,
			}
		}
	}

	rec.Mounts = rec.Mounts[:0]
	rec.TmpfsOptions = nil
	for _, mp := range mounts {
		rec.Mounts = append(rec.Mounts, mp)
		if opts, ok := tmpfsFrom[mp.Destination]; ok && mp.Type == mount.TypeTmpfs && !userDest[mp.Destination] {
			if rec.TmpfsOptions == nil {
				rec.TmpfsOptions = map[string]string{}
			}
			rec.TmpfsOptions[mp.Destination] = opts
		}
	}
	sort.Slice(rec.Mounts, func(i, j int) bool { return rec.Mounts[i].Destination < rec.Mounts[j].Destination })
	return nil
}

// tmpfsOptionsOf returns the options of rec's tmpfs mount at dest: from its --mount, or kept
// from the container it took the mount from.
func tmpfsOptionsOf(rec *Record, dest string) string {
	if rec.HostConfig != nil {
		for _, m := range rec.HostConfig.Mounts {
			if m.Type == mount.TypeTmpfs && path.Clean(m.Target) == dest {
				return volume.TmpfsOptionsString(m.TmpfsOptions)
			}
		}
	}
	return rec.TmpfsOptions[dest]
}

// readOtherRecord loads another container's config.json by name, ID or ID prefix without taking
// any lock (the caller may hold the index lock; config.json is written atomically).
func readOtherRecord(l Layout, ref string) (*Record, error) {
	r := &Runtime{Layout: l}
	id, err := r.Resolve(ref)
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := readJSON(l.ConfigPath(id), &rec); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errdefs.NotFound("No such container: " + ref)
		}
		return nil, fmt.Errorf("volumes-from %s: %w", ref, err)
	}
	return &rec, nil
}

// ownDestinations are the destinations this container asked for itself (not through
// --volumes-from): only those volumes are copied up.
func ownDestinations(rec *Record) map[string]bool {
	own := map[string]bool{}
	if rec.Config != nil {
		for d := range rec.Config.Volumes {
			own[path.Clean("/"+d)] = true
		}
	}
	if hc := rec.HostConfig; hc != nil {
		for _, b := range hc.Binds {
			if s, err := volume.ParseVolume(b); err == nil {
				own[s.Target] = true
			}
		}
		for _, m := range hc.Mounts {
			own[path.Clean(m.Target)] = true
		}
	}
	return own
}

// specMounts is called by the monitor at every start, after the rootfs is mounted at rootfs: it
// copies image content up into empty volumes and returns the mounts for libcontainer.
//
// Destinations are resolved inside rootfs (a symlink in the image never points a mount at the
// host). Binds are recursive binds (ro when asked) with rprivate propagation unless another was
// asked for; volumes are binds of their data folder (or of their local-driver device); tmpfs
// mounts get Docker's noexec,nosuid,nodev defaults and a fresh, empty file system at every start.
func specMounts(l Layout, rec *Record, rootfs string) ([]*configs.Mount, error) {
	store, err := l.openVolumes()
	if err != nil {
		return nil, err
	}
	hostMounts := map[string]mount.Mount{}
	var tmpfs map[string]string
	if hc := rec.HostConfig; hc != nil {
		for _, m := range hc.Mounts {
			hostMounts[path.Clean(m.Target)] = m
		}
		tmpfs = hc.Tmpfs
	}
	own := ownDestinations(rec)

	var out []*configs.Mount
	for _, mp := range rec.Mounts {
		dest, err := containerPath(rootfs, mp.Destination)
		if err != nil {
			return nil, err
		}
		hm, fromMount := hostMounts[mp.Destination]
		switch mp.Type {
		case mount.TypeBind:
			flags := unix.MS_BIND | unix.MS_REC
			if fromMount && hm.BindOptions != nil && hm.BindOptions.NonRecursive {
				flags = unix.MS_BIND
			}
			if !mp.RW {
				flags |= unix.MS_RDONLY
			}
			if _, err := os.Stat(mp.Source); err != nil {
				return nil, fmt.Errorf("error while creating mount source path '%s': %w", mp.Source, err)
			}
			out = append(out, &configs.Mount{
				Source: mp.Source, Destination: dest, Device: "bind", Flags: flags,
				PropagationFlags: []int{volume.PropagationFlag(mp.Propagation)},
			})
		case mount.TypeVolume:
			v, err := store.Get(mp.Name)
			if err != nil {
				return nil, fmt.Errorf("mount volume %s on %s: %w", mp.Name, mp.Destination, err)
			}
			src, ro, err := store.Source(v)
			if err != nil {
				return nil, err
			}
			noCopy := volume.ModeNoCopy(mp.Mode) ||
				(fromMount && hm.VolumeOptions != nil && hm.VolumeOptions.NoCopy)
			if own[mp.Destination] && !noCopy {
				imgPath, err := volume.ResolveInRoot(rootfs, mp.Destination)
				if err != nil {
					return nil, err
				}
				if err := store.CopyUpInto(v, imgPath, src); err != nil {
					return nil, err
				}
			}
			flags := unix.MS_BIND | unix.MS_REC
			if !mp.RW || ro {
				flags |= unix.MS_RDONLY
			}
			out = append(out, &configs.Mount{
				Source: src, Destination: dest, Device: "bind", Flags: flags,
				PropagationFlags: []int{volume.PropagationFlag(mp.Propagation)},
			})
		case mount.TypeTmpfs:
			opts := rec.TmpfsOptions[mp.Destination] // taken through --volumes-from
			if fromMount {
				opts = volume.TmpfsOptionsString(hm.TmpfsOptions)
			}
			if !mp.RW {
				opts = strings.TrimPrefix(opts+",ro", ",")
			}
			m, err := tmpfsMount(dest, opts)
			if err != nil {
				return nil, fmt.Errorf("tmpfs %s: %w", mp.Destination, err)
			}
			out = append(out, m)
		default:
			return nil, fmt.Errorf("mount %s: unsupported mount type %q", mp.Destination, mp.Type)
		}
	}
	dests := make([]string, 0, len(tmpfs))
	for d := range tmpfs {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		dest, err := containerPath(rootfs, path.Clean(d))
		if err != nil {
			return nil, err
		}
		m, err := tmpfsMount(dest, tmpfs[d])
		if err != nil {
			return nil, fmt.Errorf("tmpfs %s: %w", d, err)
		}
		out = append(out, m)
	}
	// Parents before children, so that /data and /data/sub both show.
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Destination) < depth(out[j].Destination) })
	return out, nil
}

func tmpfsMount(dest, options string) (*configs.Mount, error) {
	flags, data, prop, copyUp, err := volume.TmpfsMount(options)
	if err != nil {
		return nil, err
	}
	m := &configs.Mount{
		Source: "tmpfs", Destination: dest, Device: "tmpfs", Flags: flags, Data: data,
		PropagationFlags: []int{volume.PropagationFlag(prop)},
	}
	if copyUp {
		m.Extensions |= configs.EXT_COPYUP
	}
	return m, nil
}

// containerPath resolves dest inside rootfs (following the image's symlinks without leaving it)
// and returns it as a path inside the container.
func containerPath(rootfs, dest string) (string, error) {
	resolved, err := volume.ResolveInRoot(rootfs, dest)
	if err != nil {
		return "", err
	}
	root := path.Clean(rootfs)
	rel := strings.TrimPrefix(resolved, root)
	if rel == resolved && root != "/" {
		return "", fmt.Errorf("mount destination %s resolves outside the container root", dest)
	}
	rel = path.Clean("/" + rel)
	if rel == "/" {
		return "", errdefs.Invalid(fmt.Sprintf("mount destination %s resolves to the container's root", dest))
	}
	return rel, nil
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// releaseMounts is called when the container is removed; removeAnonymous (rm -v, --rm) also
// deletes its anonymous volumes. Named volumes are never removed here, nor anonymous volumes that
// another container still uses (through --volumes-from).
func releaseMounts(l Layout, rec *Record, removeAnonymous bool) error {
	if !removeAnonymous {
		return nil
	}
	store, err := l.openVolumes()
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range rec.Mounts {
		if mp.Type != mount.TypeVolume || mp.Name == "" {
			continue
		}
		v, err := store.Get(mp.Name)
		if err != nil {
			if !errors.Is(err, errdefs.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		if !v.Anonymous() {
			continue
		}
		err = store.Remove(v.Name, volume.RemoveOptions{Force: true, IgnoreContainer: rec.ID})
		if err != nil && !errors.Is(err, errdefs.ErrConflict) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
