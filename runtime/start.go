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
	// Monitor, when set, is a monitor started ahead (PrestartMonitor) to use instead of a new
	// one. Start always consumes it: used, or aborted when the start does not need it.
	Monitor *Monitor
}

// Monitor is a monitor process started before its container exists (PrestartMonitor): its
// process and Go runtime start while the CLI creates the container, then Start tells it to go.
type Monitor struct {
	proc  *os.Process
	wait  func()   // reaps proc (once)
	syncR *os.File // the monitor's reports (syncMsg lines)
	goW   *os.File // "start" or "attach" (wait for the attach client first); closed unused: go away
}

// PrestartMonitor starts a monitor for container id, which is yet to be created, that waits to
// be told to start it (see StartOptions.Monitor). A monitor that is not used must be aborted.
func (r *Runtime) PrestartMonitor(id string) (*Monitor, error) {
	return r.execMonitor(id)
}

// Abort sends away a prestarted monitor that will not start anything and reaps it.
func (m *Monitor) Abort() {
	if m == nil {
		return
	}
	// It has not been told anything, so it holds nothing yet: no need to wait for its start.
	m.proc.Kill()
	m.goW.Close()
	m.syncR.Close()
	m.wait()
}

// execMonitor starts a monitor process for container id; it starts the container when Start
// tells it to (on descriptor 4).
func (r *Runtime) execMonitor(id string) (*Monitor, error) {
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	goR, goW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		syncW.Close()
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	cmd := &exec.Cmd{
		Path:        selfExe,
		Args:        []string{"berth", MonitorArg, r.Layout.Root, r.Layout.RunRoot, id},
		Env:         monitorEnv(),
		ExtraFiles:  []*os.File{syncW, goR},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	trace.Mark("monitor exec")
	err = cmd.Start()
	syncW.Close()
	goR.Close()
	if err != nil {
		syncR.Close()
		goW.Close()
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	return &Monitor{proc: cmd.Process, wait: func() { cmd.Wait() }, syncR: syncR, goW: goW}, nil
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
	defer func() {
		if opts.Monitor != nil { // not handed the container: send it away
			opts.Monitor.Abort()
		}
	}()
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
			conn, err = r.DialAttach(c, *opts.Attach)
			if err != nil {
				return nil, nil, err
			}
		}
		return c, conn, nil
	}

	mon := opts.Monitor
	opts.Monitor = nil
	if mon == nil {
		if mon, err = r.execMonitor(id); err != nil {
			return nil, nil, err
		}
	} else {
		// A prestarted monitor is still starting: mount the rootfs for it meanwhile. It mounts
		// the rootfs itself when this did not.
		mountRootfs(r.Layout, &c.Record)
	}
	order := "start\n"
	if opts.Attach != nil {
		order = "attach\n"
	}
	_, err = mon.goW.Write([]byte(order))
	mon.goW.Close()
	if err != nil {
		mon.Abort()
		return nil, nil, fmt.Errorf("start %s: container monitor exited unexpectedly", c.Name)
	}
	syncR := mon.syncR
	defer syncR.Close()

	var conn *AttachConn
	fail := func(err error) (*Container, *AttachConn, error) {
		if conn != nil {
			conn.Close()
		}
		mon.wait()
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
			// The monitor starts the process once attached: the attach event comes before start.
			conn, err = r.DialAttach(c, *opts.Attach)
			if err != nil {
				return fail(err)
			}
		case m.State != nil:
			trace.Mark("started")
			if err := r.SaveState(id, m.State); err != nil {
				mon.proc.Kill()
				return fail(err)
			}
			// Reap the monitor if this command outlives it (foreground run, start -a).
			go mon.wait()
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
