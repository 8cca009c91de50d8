package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/storage"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// RemoveOptions are rm's flags.
type RemoveOptions struct {
	// Force kills a running container first (rm -f).
	Force bool
	// Volumes also removes the container's anonymous volumes (rm -v, --rm).
	Volumes bool
}

// errNotFoundAfterRemove is what Get reports for a container removed while it was being read.
func errNotFoundAfterRemove(id string) error { return errdefs.NotFound("No such container: " + id) }

// Remove deletes container id: its files, name, mounts, libcontainer state and (with Volumes) its
// anonymous volumes. A running container is refused in Docker's words unless Force is set, in which
// case it is killed first.
func (r *Runtime) Remove(id string, opts RemoveOptions) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if isActive(&c.State) && Alive(c.MonitorPid, c.MonitorStart) {
		if !opts.Force {
			if c.Status == StatusPaused {
				return errdefs.Conflict(fmt.Sprintf("cannot remove container \"/%s\": container is paused and must be unpaused first", c.Name))
			}
			return errdefs.Conflict(fmt.Sprintf("cannot remove container \"/%s\": container is running: stop the container before removing or force remove", c.Name))
		}
		if err := r.killAndWait(id, 10*time.Second); err != nil {
			return fmt.Errorf("remove container %s: %w", c.Name, err)
		}
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
	c, err = r.load(id)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil // removed meanwhile (--rm)
		}
		return err
	}
	if isActive(&c.State) && Alive(c.MonitorPid, c.MonitorStart) {
		return errdefs.Conflict(fmt.Sprintf("cannot remove container \"/%s\": container is running: stop the container before removing or force remove", c.Name))
	}
	return r.removeLocked(c, opts.Volumes)
}

// removeLocked deletes a stopped container. The caller holds the index and container locks.
func (r *Runtime) removeLocked(c *Container, volumes bool) error {
	purge, err := r.removeRecord(c, volumes, false)
	if err != nil {
		return err
	}
	purge()
	return nil
}

// removeRecord makes container c gone for every command: it releases what the container holds
// (unless released says its monitor just did), its volumes with volumes, its config.json and its
// name. The caller holds the index lock and the container's lock. purge then deletes the
// container's folders, which nothing reads any more: the monitor of a --rm container reports
// the exit code before that, so that `run --rm` does not wait for it.
func (r *Runtime) removeRecord(c *Container, volumes, released bool) (purge func(), err error) {
	id := c.ID
	c.State.Status = StatusRemoving
	if !released {
		r.releaseLeftovers(&c.Record, &c.State)
	}
	if err := releaseMounts(r.Layout, &c.Record, volumes); err != nil {
		return nil, fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	dir := r.Layout.ContainerDir(id)
	if isMountpoint(filepath.Join(dir, "merged")) {
		return nil, fmt.Errorf("remove container %s: rootfs is still mounted", c.Name)
	}
	// Drop config.json first so that a half-removed folder never reads as a container.
	if err := os.Remove(r.Layout.ConfigPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	r.releaseName(c.Name, id)
	r.event(&c.Record, "destroy", nil)
	return func() {
		os.RemoveAll(dir)
		os.RemoveAll(filepath.Join(r.Layout.RunRoot, "containers", id))
		os.Remove(r.Layout.lockPath(id))
	}, nil
}

// killAndWait marks the container manually stopped, kills its process with SIGKILL and waits for
// the monitor to record the exit.
func (r *Runtime) killAndWait(id string, timeout time.Duration) error {
	c, err := r.markStopped(id)
	if err != nil {
		return err
	}
	if c.Status == StatusPaused {
		thaw(id)
	}
	if c.Pid > 0 && Alive(c.Pid, c.PidStart) {
		r.killEvent(&c.Record, unix.SIGKILL)
		unix.Kill(c.Pid, unix.SIGKILL)
	}
	return r.waitStopped(id, timeout)
}

// markStopped sets ManuallyStopped under the container's lock so that no restart policy brings the
// container back, and returns the state it read.
func (r *Runtime) markStopped(id string) (*Container, error) {
	l, err := r.Lock(id)
	if err != nil {
		return nil, err
	}
	defer l.Release()
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	if !c.ManuallyStopped {
		c.ManuallyStopped = true
		if err := r.SaveState(id, &c.State); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// waitStopped waits until the container is no longer running (its monitor recorded the exit or
// died), up to timeout.
func (r *Runtime) waitStopped(id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	var monPid int
	var monStart uint64
	// Once the exit is recorded, let the monitor finish too, so that nothing of the container
	// is left running when the command returns.
	monitorGone := func() {
		if monPid > 0 {
			waitProcess(monPid, monStart, 2*time.Second)
		}
	}
	for {
		c, err := r.load(id)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				monitorGone()
				return nil
			}
			return err
		}
		if !isActive(&c.State) {
			monitorGone()
			return nil
		}
		if monPid == 0 {
			monPid, monStart = c.MonitorPid, c.MonitorStart
		}
		if !Alive(c.MonitorPid, c.MonitorStart) {
			_, err := r.reconcile(id)
			if errors.Is(err, errdefs.ErrNotFound) {
				return nil
			}
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for container %s to stop", ids12(id))
		}
		if rem := time.Until(deadline); rem > 0 && c.Pid > 0 && Alive(c.Pid, c.PidStart) {
			// Sleep until the process exits (pidfd), not in steps: the monitor records the
			// exit a moment later.
			waitProcess(c.Pid, c.PidStart, rem)
			continue
		}
		time.Sleep(delay)
		if delay < 20*time.Millisecond {
			delay *= 2
		}
	}
}

func ids12(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// destroyLibcontainer removes libcontainer's state (and its cgroup) for a container whose process
// is gone. Nothing to do when there is no state.
func destroyLibcontainer(l Layout, id string) {
	lc, err := libcontainer.Load(l.RuntimeDir(), id)
	if err != nil {
		os.RemoveAll(filepath.Join(l.RuntimeDir(), id))
		return
	}
	if err := lc.Destroy(); err != nil {
		lc.Signal(unix.SIGKILL)
		time.Sleep(10 * time.Millisecond)
		if err := lc.Destroy(); err != nil {
			os.RemoveAll(filepath.Join(l.RuntimeDir(), id))
		}
	}
}

// thaw unfreezes the container's cgroup (v1 freezer or v2 cgroup.freeze) so that a kill can land.
func thaw(id string) {
	os.WriteFile("/sys/fs/cgroup/freezer"+cgroupRel(id)+"/freezer.state", []byte("THAWED"), 0o644)
	os.WriteFile("/sys/fs/cgroup"+cgroupRel(id)+"/cgroup.freeze", []byte("0"), 0o644)
	os.WriteFile("/sys/fs/cgroup/unified"+cgroupRel(id)+"/cgroup.freeze", []byte("0"), 0o644)
}

// isMountpoint tells whether dir is mounted on (its device differs from its parent's).
func isMountpoint(dir string) bool {
	var a, b unix.Stat_t
	if unix.Lstat(dir, &a) != nil || unix.Lstat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev || a.Ino == b.Ino
}

// unmountRootfs unmounts the container's overlay rootfs, lazily if it is busy.
// mountRootfs mounts the container's overlay (image layers, upper and work folders) on its
// merged folder unless it is mounted already, and returns that folder. A --rm container's is
// volatile (storage.MountOverlayVolatile).
func mountRootfs(l Layout, rec *Record) (string, error) {
	dir := l.ContainerDir(rec.ID)
	rootfs := filepath.Join(dir, "merged")
	if isMountpoint(rootfs) {
		return rootfs, nil
	}
	mount := storage.MountOverlay
	if rec.HostConfig != nil && rec.HostConfig.AutoRemove {
		mount = storage.MountOverlayVolatile // its writable layer goes with it
	}
	return rootfs, mount(rec.LowerDirs, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), rootfs)
}

func unmountRootfs(l Layout, id string) {
	merged := filepath.Join(l.ContainerDir(id), "merged")
	for i := 0; i < 3 && isMountpoint(merged); i++ {
		storage.Unmount(merged)
	}
}
