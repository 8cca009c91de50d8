package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/trace"
)

// StartOptions are start's options.
type StartOptions struct {
	// Attach, when set, connects an attach client before the process starts, so that nothing
	// the process writes is missed (foreground run, start -a).
	Attach *AttachOptions
}

// StartError is a failed start with the exit code Docker uses for it (125, 126 or 127).
type StartError struct {
	Code int
	Msg  string
}

func (e *StartError) Error() string { return e.Msg }

// Unwrap maps the code onto errdefs kinds so callers can use errors.Is.
func (e *StartError) Unwrap() error {
	switch e.Code {
	case 126:
		return errdefs.ErrCannotInvoke
	case 127:
		return errdefs.ErrCommandNotFound
	}
	return nil
}

// Start starts container id through a new monitor and returns once the process runs (or the
// start failed, with a *StartError). A container already running is left alone. With opts.Attach
// the returned connection is attached from the process's first byte.
func (r *Runtime) Start(id string, opts StartOptions) (*Container, *AttachConn, error) {
	c, err := r.Get(id)
	if err != nil {
		return nil, nil, err
	}
	id = c.ID
	l, err := r.Lock(id)
	if err != nil {
		return nil, nil, err
	}
	defer l.Release()
	c, err = r.load(id)
	if err != nil {
		return nil, nil, err
	}
	if isActive(&c.State) && Alive(c.MonitorPid, c.MonitorStart) {
		switch c.Status {
		case StatusPaused:
			return nil, nil, errdefs.Conflict("cannot start a paused container, try unpause instead")
		case StatusRemoving:
			return nil, nil, errdefs.Conflict(fmt.Sprintf("container is marked for removal and cannot be started"))
		}
		var conn *AttachConn
		if opts.Attach != nil {
			conn, err = r.DialAttach(id, *opts.Attach)
			if err != nil {
				return nil, nil, err
			}
		}
		return c, conn, nil
	}

	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	args := []string{"berth", MonitorArg, r.Layout.Root, r.Layout.RunRoot, id}
	if opts.Attach != nil {
		args = append(args, "attach")
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        args,
		Env:         monitorEnv(),
		ExtraFiles:  []*os.File{syncW},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	trace.Mark("monitor exec")
	if err := cmd.Start(); err != nil {
		syncR.Close()
		syncW.Close()
		return nil, nil, fmt.Errorf("start monitor: %w", err)
	}
	syncW.Close()
	defer syncR.Close()

	var conn *AttachConn
	fail := func(err error) (*Container, *AttachConn, error) {
		if conn != nil {
			conn.Close()
		}
		cmd.Wait()
		return nil, nil, err
	}
	br := bufio.NewReader(syncR)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return fail(fmt.Errorf("start %s: container monitor exited unexpectedly", c.Name))
		}
		var m syncMsg
		if err := json.Unmarshal(line, &m); err != nil {
			return fail(fmt.Errorf("start %s: bad monitor message: %w", c.Name, err))
		}
		switch {
		case m.Ready:
			conn, err = r.DialAttach(id, *opts.Attach)
			if err != nil {
				return fail(err)
			}
		case m.State != nil:
			trace.Mark("started")
			if err := r.SaveState(id, m.State); err != nil {
				cmd.Process.Kill()
				return fail(err)
			}
			// Reap the monitor if this command outlives it (foreground run, start -a); the
			// attached session waits for that before returning, so nothing is left behind.
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			if conn != nil {
				conn.monitorExited = exited
			}
			c.State = *m.State
			return c, conn, nil
		default:
			code := m.Code
			if code == 0 {
				code = 125
			}
			st := c.State
			st.ExitCode = code
			st.Error = m.Error
			if st.Status != StatusExited {
				st.Status = StatusCreated
			}
			r.SaveState(id, &st)
			return fail(&StartError{Code: code, Msg: m.Error})
		}
	}
}

// IsStartError tells whether err is a failed start and gives its exit code.
func IsStartError(err error) (int, bool) {
	var se *StartError
	if errors.As(err, &se) {
		return se.Code, true
	}
	return 0, false
}

// monitorEnv is a monitor's whole environment: a standard PATH (the container's processes do
// not inherit the CLI's), GOMAXPROCS=1 (a monitor mostly waits; libcontainer hands the value on
// to the container's init, which needs no parallelism either), and BERTH_TRACE when phase
// tracing is on.
func monitorEnv() []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GOMAXPROCS=1"}
	if v := os.Getenv(trace.Env); v != "" {
		env = append(env, trace.Env+"="+v)
	}
	return env
}
