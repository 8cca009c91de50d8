package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// DefaultStopTimeout is Docker's grace period before SIGKILL.
const DefaultStopTimeout = 10

// signals are the names ParseSignal knows.
var signals = map[string]unix.Signal{
	"ABRT": unix.SIGABRT, "ALRM": unix.SIGALRM, "BUS": unix.SIGBUS, "CHLD": unix.SIGCHLD,
	"CLD": unix.SIGCHLD, "CONT": unix.SIGCONT, "FPE": unix.SIGFPE, "HUP": unix.SIGHUP,
	"ILL": unix.SIGILL, "INT": unix.SIGINT, "IO": unix.SIGIO, "IOT": unix.SIGIOT,
	"KILL": unix.SIGKILL, "PIPE": unix.SIGPIPE, "POLL": unix.SIGPOLL, "PROF": unix.SIGPROF,
	"PWR": unix.SIGPWR, "QUIT": unix.SIGQUIT, "SEGV": unix.SIGSEGV, "STKFLT": unix.SIGSTKFLT,
	"STOP": unix.SIGSTOP, "SYS": unix.SIGSYS, "TERM": unix.SIGTERM, "TRAP": unix.SIGTRAP,
	"TSTP": unix.SIGTSTP, "TTIN": unix.SIGTTIN, "TTOU": unix.SIGTTOU, "URG": unix.SIGURG,
	"USR1": unix.SIGUSR1, "USR2": unix.SIGUSR2, "VTALRM": unix.SIGVTALRM, "WINCH": unix.SIGWINCH,
	"XCPU": unix.SIGXCPU, "XFSZ": unix.SIGXFSZ,
}

// ParseSignal parses "KILL", "SIGKILL", "sigkill", "9" or "RTMIN+3" as Docker does.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.Invalid(fmt.Sprintf("Invalid signal: %s", s))
		}
		return unix.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signals[name]; ok {
		return sig, nil
	}
	if rest, ok := strings.CutPrefix(name, "RTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && 34+n <= 64 {
			return unix.Signal(34 + n), nil
		}
	}
	if rest, ok := strings.CutPrefix(name, "RTMAX-"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && 64-n >= 34 {
			return unix.Signal(64 - n), nil
		}
	}
	if name == "RTMIN" {
		return unix.Signal(34), nil
	}
	if name == "RTMAX" {
		return unix.Signal(64), nil
	}
	return 0, errdefs.Invalid(fmt.Sprintf("Invalid signal: %s", s))
}

// Running tells whether the container's process is up (running, paused or restarting with a live
// monitor).
func (c *Container) Running() bool {
	return isActive(&c.State) && c.Status != StatusRestarting && Alive(c.MonitorPid, c.MonitorStart)
}

// Kill sends sig to the container's main process. The container must be running.
func (r *Runtime) Kill(id string, sig unix.Signal) error {
	c, err := r.Get(id)
	if err != nil {
		return err
	}
	if c.Status == StatusRestarting && Alive(c.MonitorPid, c.MonitorStart) {
		if _, err := r.markStopped(c.ID); err != nil {
			return err
		}
		unix.Kill(c.MonitorPid, unix.SIGUSR1)
		return nil
	}
	if !c.Running() || !Alive(c.Pid, c.PidStart) {
		return errdefs.Conflict(fmt.Sprintf("cannot kill container: %s: container %s is not running", id, c.ID))
	}
	if _, err := r.markStopped(c.ID); err != nil {
		return err
	}
	r.killEvent(&c.Record, sig) // before the signal, so that it comes before the monitor's die
	if err := unix.Kill(c.Pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("cannot kill container: %s: %w", id, err)
	}
	if c.Status == StatusPaused && sig == unix.SIGKILL {
		thaw(c.ID)
	}
	return nil
}

// Signal sends sig to the container's main process without changing its restart bookkeeping
// (used to forward the user's signals in foreground runs).
func (r *Runtime) Signal(c *Container, sig unix.Signal) error {
	if !Alive(c.Pid, c.PidStart) {
		return nil
	}
	return unix.Kill(c.Pid, sig)
}

// Stop stops container id: its stop signal (image STOPSIGNAL or --stop-signal, else SIGTERM),
// then SIGKILL after timeout seconds (nil: --stop-timeout or 10; negative: wait forever). A
// container that is not running is left as it is.
func (r *Runtime) Stop(id string, timeout *int) error {
	c, err := r.Get(id)
	if err != nil {
		return err
	}
	id = c.ID
	if !isActive(&c.State) {
		return nil
	}
	if c.Status == StatusRestarting {
		if _, err := r.markStopped(id); err != nil {
			return err
		}
		unix.Kill(c.MonitorPid, unix.SIGUSR1)
		return r.waitStopped(id, 30*time.Second)
	}
	sig := unix.SIGTERM
	if c.Config != nil && c.Config.StopSignal != "" {
		if s, err := ParseSignal(c.Config.StopSignal); err == nil {
			sig = s
		}
	}
	t := DefaultStopTimeout
	if c.Config != nil && c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	if _, err := r.markStopped(id); err != nil {
		return err
	}
	if Alive(c.Pid, c.PidStart) {
		r.killEvent(&c.Record, sig)
		unix.Kill(c.Pid, sig)
		if c.Status == StatusPaused {
			thaw(id)
		}
		if t < 0 {
			waitProcess(c.Pid, c.PidStart, -1)
		} else if !waitProcess(c.Pid, c.PidStart, time.Duration(t)*time.Second) {
			r.killEvent(&c.Record, unix.SIGKILL)
			unix.Kill(c.Pid, unix.SIGKILL)
			thaw(id)
		}
	}
	if err := r.waitStopped(id, 30*time.Second); err != nil {
		return err
	}
	r.event(&c.Record, "stop", nil)
	return nil
}

// Restart stops the container (if running) and starts it again.
func (r *Runtime) Restart(id string, timeout *int) error {
	c, err := r.Get(id)
	if err != nil {
		return err
	}
	if err := r.Stop(c.ID, timeout); err != nil {
		return err
	}
	if _, _, err = r.Start(c.ID, StartOptions{}); err == nil {
		r.event(&c.Record, "restart", nil)
	}
	return err
}

// waitProcess waits until pid (with start time start) exits, up to timeout (negative: forever).
// It uses a pidfd so the wake-up is immediate.
func waitProcess(pid int, start uint64, timeout time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return !Alive(pid, start)
	}
	defer unix.Close(fd)
	if !Alive(pid, start) {
		return true
	}
	ms := -1
	if timeout >= 0 {
		ms = int(timeout / time.Millisecond)
	}
	deadline := time.Now().Add(timeout)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			if timeout >= 0 {
				ms = int(time.Until(deadline) / time.Millisecond)
				if ms < 0 {
					ms = 0
				}
			}
			continue
		}
		if n > 0 {
			return true
		}
		return !Alive(pid, start)
	}
}

// exitFile keeps the exit code of an auto-removed container for wait (under RunRoot, so it goes
// away with a reboot).
func (l Layout) exitFile(id string) string { return filepath.Join(l.RunRoot, "exits", id) }

// Wait blocks until container id is not running and returns its exit code (Docker's default
// "not-running" condition: a created container returns at once).
func (r *Runtime) Wait(id string) (int, error) {
	c, err := r.Get(id)
	if err != nil {
		// An auto-removed container is gone, but its exit code is kept under RunRoot.
		if errors.Is(err, errdefs.ErrNotFound) && len(id) == 64 {
			if code, ok := r.removedExitCode(id); ok {
				return code, nil
			}
		}
		return -1, err
	}
	id = c.ID
	last := c.ExitCode
	for {
		if !isActive(&c.State) {
			return c.ExitCode, nil
		}
		if Alive(c.Pid, c.PidStart) {
			waitProcess(c.Pid, c.PidStart, -1)
		} else {
			time.Sleep(5 * time.Millisecond)
		}
		nc, err := r.Get(id)
		if err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				if code, ok := r.removedExitCode(id); ok {
					return code, nil
				}
				return last, nil
			}
			return -1, err
		}
		c = nc
		last = c.ExitCode
		if c.Status == StatusRestarting {
			return c.ExitCode, nil
		}
	}
}

// removedExitCode reads the exit code an auto-removed container left.
func (r *Runtime) removedExitCode(id string) (int, bool) {
	data, err := os.ReadFile(r.Layout.exitFile(id))
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return n, err == nil
}
