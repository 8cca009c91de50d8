package runtime

import (
	"fmt"

	"github.com/opencontainers/runc/libcontainer"

	"github.com/berth-project/berth/internal/errdefs"
)

// Pause freezes every process of a running container (the cgroup freezer) and records the
// container as paused. The errors are Docker's: a stopped container "is not running", a paused
// one "is already paused".
func (r *Runtime) Pause(nameOrID string) error {
	return r.setPaused(nameOrID, true)
}

// Unpause thaws a paused container and records it as running again.
func (r *Runtime) Unpause(nameOrID string) error {
	return r.setPaused(nameOrID, false)
}

func (r *Runtime) setPaused(nameOrID string, pause bool) error {
	c, l, err := r.getLocked(nameOrID)
	if err != nil {
		return err
	}
	defer l.Release()
	live := c.IsRunning() && Alive(c.Pid, c.PidStart)
	if !pause {
		if c.State.Status != StatusPaused {
			return errdefs.Conflict(fmt.Sprintf("Container %s is not paused", c.ID))
		}
		if !live {
			return ErrNotRunning(c.ID)
		}
	} else {
		if !live {
			return ErrNotRunning(c.ID)
		}
		switch c.State.Status {
		case StatusPaused:
			return errdefs.Conflict(fmt.Sprintf("Container %s is already paused", c.ID))
		case StatusRestarting:
			return errdefs.Conflict(fmt.Sprintf("Container %s is restarting, wait until the container is running", c.ID))
		}
	}
	lc, err := libcontainer.Load(r.Layout.RuntimeDir(), c.ID)
	if err != nil {
		return fmt.Errorf("load container %s: %w", c.ID, err)
	}
	if pause {
		if err := lc.Pause(); err != nil {
			return fmt.Errorf("cannot pause container %s: %w", c.ID, err)
		}
		c.State.Status = StatusPaused
	} else {
		if err := lc.Resume(); err != nil {
			return fmt.Errorf("Cannot unpause container %s: %w", c.ID, err)
		}
		c.State.Status = StatusRunning
	}
	if err := r.SaveState(c.ID, &c.State); err != nil {
		// Keep the host and the record in agreement: undo the freeze or thaw.
		if pause {
			lc.Resume()
		} else {
			lc.Pause()
		}
		return err
	}
	if pause {
		r.event(&c.Record, "pause", nil)
	} else {
		r.event(&c.Record, "unpause", nil)
	}
	return nil
}
