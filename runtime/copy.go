package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/docker/docker/api/types/mount"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/copyarchive"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/storage"
)

// ContainerFS is a view of one container's file system as the container sees it, for `cp`: its
// root is "/", symlinks resolve inside it, and its volumes, bind mounts and tmpfs mounts are
// where the container has them. The container's lock is held until Close, so it is neither
// started, stopped nor removed meanwhile.
//
// All its work runs on one OS thread of its own, in a private mount namespace that no other
// process sees, chrooted into the container's root: nothing done through the view can reach the
// host's files, whatever symlinks the container holds. What is mounted for it is unmounted at
// Close, and would go with the thread anyway.
type ContainerFS struct {
	// Ref is the container as the user named it (Docker's messages say it so).
	Ref string
	rec *Record

	lock *lock.Lock
	todo chan func()
	done chan struct{}
}

// PathStat describes a path in a container, as Docker's container archive API does.
type PathStat struct {
	Name  string
	Size  int64
	Mode  fs.FileMode
	Mtime int64
	// LinkTarget is, for a symlink, the path it resolves to in the container (every link on the
	// way followed, as far as they lead).
	LinkTarget string
}

// OpenFS opens a view of the file system of the container nameOrID. Close it.
func (r *Runtime) OpenFS(nameOrID string) (*ContainerFS, error) {
	c, l, err := r.getLocked(nameOrID)
	if err != nil {
		return nil, err
	}
	v := &ContainerFS{Ref: nameOrID, rec: &c.Record, lock: l, todo: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go v.loop(r.Layout, c, ready)
	if err := <-ready; err != nil {
		<-v.done
		l.Release()
		return nil, fmt.Errorf("open the file system of %s: %w", nameOrID, err)
	}
	return v, nil
}

// loop runs on the view's thread: it enters the container's root, then runs what it is given
// until Close. The thread is never unlocked, so it ends with this goroutine (Go makes no other
// goroutine run on it, nor new threads from it).
func (v *ContainerFS) loop(l Layout, c *Container, ready chan<- error) {
	goruntime.LockOSThread()
	defer close(v.done)
	leave, err := enterRoot(l, c)
	ready <- err
	if err != nil {
		return
	}
	for fn := range v.todo {
		fn()
	}
	leave()
}

// Close waits for the view's work to end, releases its mounts and the container's lock.
func (v *ContainerFS) Close() error {
	close(v.todo)
	<-v.done
	v.lock.Release()
	return nil
}

// run runs fn on the view's thread and returns its error.
func (v *ContainerFS) run(fn func() error) error {
	res := make(chan error, 1)
	v.todo <- func() { res <- fn() }
	return <-res
}

// enterRoot makes the calling (locked) thread's root the container's and returns what leaves it
// again and unmounts what was mounted for it.
//
// The thread gets a mount namespace of its own (a slave of the host's: mounts made there are
// seen by no one else), where the container's overlay is mounted unless it runs (then it is
// mounted already), then its volumes, binds, tmpfs and /etc files as a start would mount them.
// Like Docker's, the view has no /proc, /sys or /dev of the container's and a fresh tmpfs.
func enterRoot(l Layout, c *Container) (leave func(), err error) {
	running := c.Pid > 0 && Alive(c.Pid, c.PidStart)
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return nil, fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return nil, fmt.Errorf("make / a slave mount: %w", err)
	}
	var mounted []string
	unmount := func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			storage.Unmount(mounted[i])
		}
	}
	dir := l.ContainerDir(c.ID)
	merged := filepath.Join(dir, "merged")
	if !isMountpoint(merged) {
		if err := storage.MountOverlay(c.LowerDirs, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), merged); err != nil {
			return nil, err
		}
		mounted = append(mounted, merged)
	}
	// The root is taken by descriptor before anything is mounted in it: whatever a running
	// container does to its paths meanwhile, the view's root is its overlay.
	root, err := unix.Open(merged, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unmount()
		return nil, err
	}
	defer unix.Close(root)
	binds, err := mountView(l, &c.Record, merged, running)
	mounted = append(mounted, binds...)
	if err != nil {
		unmount()
		return nil, err
	}
	host, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unmount()
		return nil, err
	}
	if err := chrootFd(root); err != nil {
		unix.Close(host)
		unmount()
		return nil, err
	}
	return func() {
		// Back to the host's root to unmount now: the next `start` of the container mounts its
		// overlay again, and must not find this one still alive.
		unix.Fchdir(host)
		unix.Chroot(".")
		unix.Close(host)
		unmount()
	}, nil
}

func chrootFd(fd int) error {
	if err := unix.Fchdir(fd); err != nil {
		return fmt.Errorf("enter the container root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into the container root: %w", err)
	}
	return unix.Chdir("/")
}

// mountView mounts the container's volumes, binds, tmpfs mounts and /etc files on its rootfs
// (in the calling thread's private mount namespace) and returns the mount points made, in
// order. For a container that does not run it is what a start does (empty volumes get the
// image's content); for a running one nothing is created or copied in the container (it may
// change its paths meanwhile): a mount point it no longer has is left out.
func mountView(l Layout, rec *Record, rootfs string, running bool) ([]string, error) {
	var ms []*configs.Mount
	var err error
	if running {
		ms, err = runningMounts(l, rec)
	} else {
		ms, err = specMounts(l, rec, rootfs)
	}
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"resolv.conf", "hostname", "hosts"} {
		src := filepath.Join(l.ContainerDir(rec.ID), f)
		if _, err := os.Stat(src); err == nil { // not made before the first start
			ms = append(ms, &configs.Mount{Source: src, Destination: "/etc/" + f, Device: "bind", Flags: unix.MS_BIND})
		}
	}
	var done []string
	for _, m := range ms {
		target, err := securejoin.SecureJoin(rootfs, m.Destination)
		if err != nil {
			return done, err
		}
		if running {
			if _, err := os.Lstat(target); err != nil {
				continue
			}
		}
		switch m.Device {
		case "bind":
			err = bindInto(m.Source, target, m.Flags&unix.MS_REC != 0, m.Flags&unix.MS_RDONLY != 0, !running)
		case "tmpfs":
			// A fresh, empty one, as in Docker's view.
			if !running {
				err = makeMountpoint(target, true)
			}
			if err == nil {
				err = unix.Mount("tmpfs", target, "tmpfs", uintptr(m.Flags), m.Data)
			}
		default:
			continue
		}
		if err != nil {
			return done, fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		done = append(done, target)
	}
	return done, nil
}

// runningMounts lists a running container's mounts as specMounts does, without copying image
// content into its volumes (that was done at its start) and with destinations as recorded.
func runningMounts(l Layout, rec *Record) ([]*configs.Mount, error) {
	store, err := l.openVolumes()
	if err != nil {
		return nil, err
	}
	var out []*configs.Mount
	for _, mp := range rec.Mounts {
		flags := unix.MS_BIND | unix.MS_REC
		if !mp.RW {
			flags |= unix.MS_RDONLY
		}
		switch mp.Type {
		case mount.TypeBind:
			out = append(out, &configs.Mount{Source: mp.Source, Destination: mp.Destination, Device: "bind", Flags: flags})
		case mount.TypeVolume:
			v, err := store.Get(mp.Name)
			if err != nil {
				return nil, fmt.Errorf("volume %s on %s: %w", mp.Name, mp.Destination, err)
			}
			src, ro, err := store.Source(v)
			if err != nil {
				return nil, err
			}
			if ro {
				flags |= unix.MS_RDONLY
			}
			out = append(out, &configs.Mount{Source: src, Destination: mp.Destination, Device: "bind", Flags: flags})
		case mount.TypeTmpfs:
			out = append(out, &configs.Mount{Source: "tmpfs", Destination: mp.Destination, Device: "tmpfs"})
		}
	}
	if rec.HostConfig != nil {
		for d := range rec.HostConfig.Tmpfs {
			out = append(out, &configs.Mount{Source: "tmpfs", Destination: path.Clean(d), Device: "tmpfs"})
		}
	}
	// Parents before children, so that /data and /data/sub both show.
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Destination) < depth(out[j].Destination) })
	return out, nil
}

// bindInto bind-mounts src on target, with create making target (a folder or an empty file,
// like src) first.
func bindInto(src, target string, recursive, readOnly, create bool) error {
	if create {
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		if err := makeMountpoint(target, st.IsDir()); err != nil {
			return err
		}
	}
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	if err := unix.Mount(src, target, "", flags, ""); err != nil {
		return err
	}
	if err := unix.Mount("", target, "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if readOnly {
		return unix.Mount("", target, "", flags|unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	return nil
}

// makeMountpoint makes target a folder or an empty file unless it is one already.
func makeMountpoint(target string, dir bool) error {
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// inRoot is p (a path in the container, relative ones from "/") made absolute, with its trailing
// "/" or "/." kept.
func inRoot(p string) string {
	return copyarchive.PreserveTrailingDotOrSeparator(filepath.Join("/", p), p)
}

// notFound words a missing path as Docker does.
func (v *ContainerFS) notFound(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errdefs.NotFound(fmt.Sprintf("Could not find the file %s in container %s", p, v.Ref))
	}
	return err
}

// Stat describes the path p in the container. A symlink is not followed; its LinkTarget says
// where it leads.
func (v *ContainerFS) Stat(p string) (PathStat, error) {
	var st PathStat
	err := v.run(func() error {
		var err error
		st, err = statInRoot(inRoot(p))
		return err
	})
	return st, v.notFound(p, err)
}

func statInRoot(abs string) (PathStat, error) {
	fi, err := os.Lstat(abs)
	if err != nil {
		return PathStat{}, err
	}
	st := PathStat{Name: filepath.Base(abs), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime().Unix()}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// The thread's root is the container's: "/" is its root.
		if st.LinkTarget, err = securejoin.SecureJoin("/", abs); err != nil {
			return PathStat{}, err
		}
	}
	return st, nil
}

// Archive returns the tar of the file or folder at p in the container (its top entry named
// after p's last element, or "." for "dir/.") and what p is. Close the reader; the view is busy
// until the tar is read or closed.
func (v *ContainerFS) Archive(p string) (io.ReadCloser, PathStat, error) {
	abs := inRoot(p)
	var st PathStat
	if err := v.run(func() error {
		var err error
		st, err = statInRoot(abs)
		return err
	}); err != nil {
		return nil, PathStat{}, v.notFound(p, err)
	}
	pr, pw := io.Pipe()
	v.todo <- func() {
		pw.CloseWithError(copyarchive.WriteTar(pw, abs, copyarchive.EntryBase(abs)))
	}
	return pr, st, nil
}

// ExtractOptions tune ContainerFS.Extract.
type ExtractOptions struct {
	// KeepOwner keeps the owners the tar names (cp -a); otherwise everything extracted belongs
	// to root (0:0), as Docker documents.
	KeepOwner bool
	// NoOverwriteDirNonDir refuses to replace a folder with a non-folder and the reverse.
	NoOverwriteDirNonDir bool
}

// Extract unpacks the tar r into the folder dir of the container (symlinks to it followed
// inside the container). Read-only volumes and a read-only rootfs are refused with Docker's
// words.
func (v *ContainerFS) Extract(dir string, r io.Reader, opts ExtractOptions) error {
	err := v.run(func() error {
		abs, err := filepath.EvalSymlinks(filepath.Join("/", dir))
		if err != nil {
			return err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return errdefs.Invalid("extraction point is not a directory")
		}
		if err := v.checkWritable(abs); err != nil {
			return err
		}
		xo := copyarchive.ExtractOptions{NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir, KeepOwner: opts.KeepOwner}
		if !opts.KeepOwner {
			xo.Owner = &copyarchive.Owner{}
		}
		return copyarchive.Extract(r, abs, xo)
	})
	return v.notFound(dir, err)
}

// checkWritable refuses a path inside a read-only mount, or in a read-only rootfs outside any
// mount, as Docker's checkWritablePath does.
func (v *ContainerFS) checkWritable(abs string) error {
	best := -1
	rw := true
	for _, m := range v.rec.Mounts {
		d := path.Clean(m.Destination)
		if (abs == d || strings.HasPrefix(abs, strings.TrimSuffix(d, "/")+"/")) && len(d) > best {
			best, rw = len(d), m.RW
		}
	}
	switch {
	case best >= 0 && !rw:
		return errdefs.Invalid("mounted volume is marked read-only")
	case best >= 0:
		return nil
	case v.rec.HostConfig != nil && v.rec.HostConfig.ReadonlyRootfs:
		return errdefs.Invalid("container rootfs is marked read-only")
	}
	return nil
}
