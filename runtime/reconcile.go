package runtime

import (
	"errors"
	"github.com/berth-project/berth/internal/procfs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Alive reports whether the process pid with start time start still runs (a reused PID has another
// start time and does not count).
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	s := procfs.StartTime(pid)
	return s != 0 && (start == 0 || s == start)
}

// isActive tells whether the state says a monitor should be looking after the container.
func isActive(st *State) bool {
	switch st.Status {
	case StatusRunning, StatusPaused, StatusRestarting, StatusRemoving:
		return true
	}
	return false
}

// needsReconcile tells whether the state claims a live container whose monitor is gone.
func needsReconcile(st *State) bool {
	return isActive(st) && !Alive(st.MonitorPid, st.MonitorStart)
}

// reconcile brings a container whose monitor died back to the truth under its lock: the leftover
// init is killed, its mounts, cgroup, network and libcontainer state are released and the state is
// saved as exited (with the monitor's last exit code, else 255). A container with --rm is removed.
func (r *Runtime) reconcile(id string) (*Container, error) {
	l, err := r.Lock(id)
	if err != nil {
		return nil, err
	}
	c, err := r.load(id)
	if err != nil {
		l.Release()
		return nil, err
	}
	if !needsReconcile(&c.State) {
		l.Release()
		return c, nil
	}
	if Alive(c.Pid, c.PidStart) {
		unix.Kill(c.Pid, unix.SIGKILL)
		waitGone(c.Pid, c.PidStart, 2*time.Second)
	}
	r.releaseLeftovers(&c.Record, &c.State)
	if c.Status == StatusRemoving {
		c.Status = StatusDead
	} else {
		c.Status = StatusExited
	}
	if c.ExitCode == 0 {
		c.ExitCode = 255
	}
	if c.Error == "" {
		c.Error = "container monitor exited unexpectedly"
	}
	c.Pid, c.PidStart, c.MonitorPid, c.MonitorStart = 0, 0, 0, 0
	if c.FinishedAt.IsZero() || c.FinishedAt.Before(c.StartedAt) {
		c.FinishedAt = time.Now().UTC()
	}
	r.dieEvents(&c.Record, &c.State, c.FinishedAt.Sub(c.StartedAt)) // nobody else saw the exit
	if err := r.SaveState(id, &c.State); err != nil {
		l.Release()
		return nil, err
	}
	autoRemove := c.HostConfig != nil && c.HostConfig.AutoRemove
	l.Release()
	if autoRemove {
		if err := r.Remove(id, RemoveOptions{Volumes: true}); err == nil {
			return nil, errNotFoundAfterRemove(id)
		}
	}
	return c, nil
}

// waitGone polls until pid is gone or timeout passes.
func waitGone(pid int, start uint64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for Alive(pid, start) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// releaseLeftovers frees everything a started container holds on the host: the network, the
// libcontainer state and cgroup, and the overlay rootfs. It is idempotent and ignores what is
// already gone.
func (r *Runtime) releaseLeftovers(rec *Record, st *State) {
	teardownNetwork(r.Layout, rec, st)
	destroyLibcontainer(r.Layout, rec.ID)
	removeCgroup(rec.ID)
	unmountRootfs(r.Layout, rec.ID)
}

// removeCgroup removes the container's cgroup (cgroupRel) in every mounted cgroup hierarchy (v1 controllers and v2).
func removeCgroup(id string) {
	rel := cgroupRel(id)
	roots, _ := filepath.Glob("/sys/fs/cgroup/*" + rel)
	if fi, err := os.Stat("/sys/fs/cgroup" + rel); err == nil && fi.IsDir() {
		roots = append(roots, "/sys/fs/cgroup"+rel)
	}
	for _, d := range roots {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			// A process may still be dying: try once more shortly.
			time.Sleep(10 * time.Millisecond)
			os.Remove(d)
		}
	}
}
