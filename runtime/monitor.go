package runtime

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	rt "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/trace"
	"github.com/docker/docker/api/types/container"
	_ "github.com/opencontainers/cgroups/devices" // lets libcontainer's cgroup managers set device rules
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// MonitorArg is argv[1] of a monitor process: `berth __monitor ROOT RUNROOT ID [attach]`.
const MonitorArg = "__berth-monitor"

// syncMsg is what a monitor reports to the CLI that started it, one JSON line each.
type syncMsg struct {
	// Ready: the attach socket listens (only with the attach flag).
	Ready bool `json:",omitempty"`
	// State: the process runs; this is its state to save.
	State *State `json:",omitempty"`
	// Error and Code: the start failed (Code 125, 126 or 127).
	Error string `json:",omitempty"`
	Code  int    `json:",omitempty"`
}

// monitor looks after one container from start to final exit.
type monitor struct {
	r   *Runtime
	id  string
	rec *Record
	hub *hub
	ln  net.Listener

	lc      *libcontainer.Container
	proc    *libcontainer.Process
	stopped chan struct{} // closed when the monitor should give up restarting
	pumps   *sync.WaitGroup
	// outR and errR are the read ends of the container's stdout and stderr pipes (nil with a
	// terminal), handed to the idle loop (see goIdle).
	outR, errR *os.File

	// delay is the next restart's backoff; notified tells whether the clients had the exit
	// code of the first exit already (they get it once, and the stream ends).
	delay    time.Duration
	notified bool
}

// settleMonitorProcess sets up the Go runtime of a monitor process (MonitorMain, MonitorExited).
// No collection while setting up: starting a container allocates a few megabytes at most, and
// each cycle costs more (sweeping, page faults) than it saves; shrinkMonitor collects once and
// sets the low percentage for the long wait. GOMAXPROCS=1 comes in the environment
// (monitorEnv), so that the runtime starts with one P; the call only matters for a monitor
// started by hand. Transparent huge pages are off from before the Go runtime starts
// (cmd/berth/internal/earlymon). The container's init gets SIGKILL when the thread that forked
// it exits (see cmd/berth/internal/lcinit): starts happen on the calling goroutine, locked for
// good, so its thread lives as long as the monitor, and no goroutine that locks a thread and
// exits (netns setup, libcontainer's mount helper) can take it down with a container's init.
func settleMonitorProcess() {
	debug.SetGCPercent(-1)
	rt.GOMAXPROCS(1)
	rt.LockOSThread()
}

// pumpPipes copies the container's stdout and stderr pipes into the log and to the clients,
// counting the copies in wg.
func (m *monitor) pumpPipes(wg *sync.WaitGroup) {
	wg.Add(2)
	go m.hub.pump(m.outR, "stdout", wg)
	go m.hub.pump(m.errR, "stderr", wg)
}

// pumpConsole copies the container's terminal (-t) into the log and to the clients.
func (m *monitor) pumpConsole(wg *sync.WaitGroup) {
	wg.Add(1)
	go m.hub.pump(m.hub.console, "stdout", wg)
}

// MonitorMain is the entry point of a monitor process (see MonitorArg). It returns the exit code.
func MonitorMain(args []string) int {
	trace.Mark("monitor main")
	settleMonitorProcess()
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: berth "+MonitorArg+" ROOT RUNROOT ID [attach]")
		return 125
	}
	r := &Runtime{Layout: Layout{Root: args[0], RunRoot: args[1]}}
	warmWhileWaiting(4)
	id, waitAttach, ok := monitorOrders(args[2:])
	if !ok {
		return 0 // a prestarted monitor that was not needed (or not for this container)
	}
	trace.Mark("monitor told")
	syncPipe := os.NewFile(3, "sync")
	report := func(m syncMsg) {
		if syncPipe == nil {
			return
		}
		data, _ := json.Marshal(m)
		syncPipe.Write(append(data, '\n'))
	}
	fail := func(code int, err error) int {
		report(syncMsg{Error: err.Error(), Code: code})
		return code
	}
	c, err := r.load(id)
	if err != nil {
		return fail(125, err)
	}
	m := &monitor{r: r, id: id, rec: &c.Record, stopped: make(chan struct{}), delay: firstRestartDelay}
	m.hub = &hub{stdinOnce: c.Config.StdinOnce}
	if err := m.listen(); err != nil {
		return fail(125, err)
	}
	defer m.closeListener()
	if waitAttach {
		report(syncMsg{Ready: true})
		m.ln.(*net.UnixListener).SetDeadline(time.Now().Add(10 * time.Second))
		conn, err := m.ln.Accept()
		if err != nil {
			return fail(125, fmt.Errorf("attach: %w", err))
		}
		m.ln.(*net.UnixListener).SetDeadline(time.Time{})
		cl, br, err := m.hub.accept(conn)
		if err != nil {
			return fail(125, err)
		}
		go m.hub.serve(cl, br)
	}
	go m.acceptLoop(m.ln)

	st := c.State
	code, err := m.start(&st, cl0(m))
	if err != nil {
		m.cleanup(&st)
		return fail(code, err)
	}
	report(syncMsg{State: &st})
	syncPipe.Close()
	syncPipe = nil
	// Building the spec and starting the container needed far more than waiting does.
	trace.Mark("start reported")
	m.watchSignals()
	m.loop()
	return 0
}

func cl0(m *monitor) attachHello {
	m.hub.mu.Lock()
	defer m.hub.mu.Unlock()
	for c := range m.hub.clients {
		return c.hello
	}
	return attachHello{}
}

func (m *monitor) listen() error {
	sock := m.r.Layout.AttachSocket(m.id)
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		return fmt.Errorf("attach socket: %w", err)
	}
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("attach socket: %w", err)
	}
	m.ln = ln
	return nil
}

// closeListener stops accepting attach clients and removes the socket. On a final exit it runs
// while the monitor still holds the container's lock: once the lock is released a new start may
// listen on the same path, and a late removal would take its socket away.
func (m *monitor) closeListener() {
	if m.ln != nil {
		m.ln.Close()
		os.Remove(m.r.Layout.AttachSocket(m.id))
		m.ln = nil
	}
}

// acceptLoop serves the attach clients of ln until it is closed. It takes ln rather than
// reading m.ln, which closeListener clears (a final exit can come before this goroutine runs).
func (m *monitor) acceptLoop(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			cl, br, err := m.hub.accept(conn)
			if err == nil {
				m.hub.serve(cl, br)
			}
		}()
	}
}

// watchSignals makes SIGUSR1 (sent by stop/kill/rm during a restart backoff) end the backoff.
func (m *monitor) watchSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGUSR1)
	go func() {
		for range ch {
			select {
			case <-m.stopped:
			default:
				close(m.stopped)
			}
		}
	}()
}

// startErrorCode maps a libcontainer start error to Docker's exit code and message.
func startErrorCode(err error) (int, string) {
	msg := err.Error()
	if i := strings.Index(msg, "exec: "); i >= 0 {
		msg = msg[i:]
	} else if i := strings.Index(msg, "error during container init: "); i >= 0 {
		msg = msg[i+len("error during container init: "):]
	}
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127, msg
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"), strings.Contains(msg, "exec format error"):
		return 126, msg
	}
	return 125, msg
}

// cleanup releases what a failed or finished start holds.
func (m *monitor) cleanup(st *State) {
	// libcontainer's Destroy removes the cgroup it made; look for leftovers only when it failed.
	destroyed := false
	if m.lc != nil {
		destroyed = m.lc.Destroy() == nil
		m.lc = nil
	}
	if !destroyed {
		destroyLibcontainer(m.r.Layout, m.id)
	}
	teardownNetwork(m.r.Layout, m.rec, st)
	if !destroyed {
		removeCgroup(m.id)
	}
	unmountRootfs(m.r.Layout, m.id)
}

// oomKilled reads the container cgroup's OOM kill counter (v1 memory.oom_control, v2
// memory.events).
func oomKilled(id string) bool {
	for _, p := range []string{
		"/sys/fs/cgroup/memory" + cgroupRel(id) + "/memory.oom_control",
		"/sys/fs/cgroup" + cgroupRel(id) + "/memory.events",
	} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n > 0
			}
		}
	}
	return false
}

// firstRestartDelay is Docker's first restart backoff; it doubles up to a minute.
const firstRestartDelay = 100 * time.Millisecond

// loop waits for the process, records the exit and applies the restart policy until the
// container stays down. Once the container has run for a moment, the monitor hands it over to
// the idle loop when it can (goIdle; this process then continues as MonitorExited), else gives
// its start-up memory back.
func (m *monitor) loop() {
	for {
		// Not at once: a short-lived process (run --rm ... true) has exited by the time a
		// collection or the handover is done, and its exit would wait for it.
		if m.waitExitOrIdle() {
			m.goIdle() // returns only when the handover could not be made
		}
		ps, _ := m.proc.Wait()
		trace.Mark("exit seen")
		if !m.afterExit(exitCode(ps), time.Now().UTC()) {
			return
		}
	}
}

// afterExit records an exit of the container's process with code at finished and applies the
// restart policy: it reports whether the container runs again.
func (m *monitor) afterExit(code int, finished time.Time) bool {
	oom := oomKilled(m.id)
	waitPumps(m.pumps, 2*time.Second)
	m.closeIO()

	l, err := m.r.Lock(m.id)
	if err != nil {
		return false
	}
	c, err := m.r.load(m.id)
	if err != nil {
		m.closeListener()
		l.Release()
		m.cleanup(&State{})
		m.hub.finish(code)
		return false
	}
	st := &c.State
	m.rec = &c.Record // see `update` (restart policy, limits) and `rename` made while running
	ranFor := finished.Sub(st.StartedAt)
	restart := shouldRestart(m.rec.HostConfig.RestartPolicy, st, code)
	st.ExitCode = code
	st.OOMKilled = oom
	st.FinishedAt = finished
	st.Pid, st.PidStart = 0, 0
	if !restart {
		m.cleanup(st)
		m.r.dieEvents(m.rec, st, ranFor)
		trace.Mark("cleaned up")
		st.Status = StatusExited
		st.MonitorPid, st.MonitorStart = 0, 0
		m.closeListener()
		if !m.rec.HostConfig.AutoRemove {
			m.r.SaveState(m.id, st)
			l.Release()
			m.hub.finish(code)
			return false
		}
		// --rm: keep the exit code for wait, then remove under the index lock (taken
		// before the container's, as everywhere).
		os.MkdirAll(filepath.Dir(m.r.Layout.exitFile(m.id)), 0o700)
		os.WriteFile(m.r.Layout.exitFile(m.id), []byte(strconv.Itoa(code)), 0o600)
		m.r.SaveState(m.id, st)
		l.Release()
		purge := m.autoRemove()
		trace.Mark("removed")
		m.hub.finish(code)
		if purge != nil {
			purge()
		}
		return false
	}
	// Restart with Docker's backoff: 100 ms doubling up to a minute, reset after 10 s up.
	if ranFor >= 10*time.Second {
		m.delay = firstRestartDelay
	}
	st.Status = StatusRestarting
	st.RestartCount++
	if m.lc != nil {
		m.lc.Destroy()
		m.lc = nil
	} else {
		destroyLibcontainer(m.r.Layout, m.id)
	}
	teardownNetwork(m.r.Layout, m.rec, st)
	m.r.dieEvents(m.rec, st, ranFor)
	m.r.SaveState(m.id, st)
	l.Release()
	if !m.notified {
		m.hub.finish(code)
		m.notified = true
	}
	select {
	case <-time.After(m.delay):
	case <-m.stopped:
	}
	if m.delay *= 2; m.delay > time.Minute {
		m.delay = time.Minute
	}
	return m.restart()
}

// autoRemove removes the container after its final exit (--rm), its leftovers already released
// by cleanup. It returns what deletes the container's folders, to run once the exit code is
// reported (see removeRecord); nil when there is nothing to delete.
func (m *monitor) autoRemove() (purge func()) {
	il, err := m.r.LockIndex()
	if err != nil {
		return nil
	}
	defer il.Release()
	cl, err := m.r.Lock(m.id)
	if err != nil {
		return nil
	}
	defer cl.Release()
	c, err := m.r.load(m.id)
	if err != nil || isActive(&c.State) {
		return nil
	}
	purge, err = m.r.removeRecord(c, true, true)
	if err != nil {
		return nil
	}
	return purge
}

// restart starts the process again after a backoff, unless the container was stopped meanwhile.
func (m *monitor) restart() bool {
	l, err := m.r.Lock(m.id)
	if err != nil {
		return false
	}
	defer l.Release()
	ok := false
	defer func() {
		if !ok { // the monitor ends: stop listening while the lock is held (see closeListener)
			m.closeListener()
		}
	}()
	c, err := m.r.load(m.id)
	if err != nil {
		m.cleanup(&State{})
		return false
	}
	st := &c.State
	if st.ManuallyStopped || st.Status != StatusRestarting {
		m.cleanup(st)
		if st.Status == StatusRestarting {
			st.Status = StatusExited
		}
		st.MonitorPid, st.MonitorStart = 0, 0
		m.r.SaveState(m.id, st)
		return false
	}
	if code, err := m.start(st, attachHello{}); err != nil {
		m.cleanup(st)
		st.Status = StatusExited
		st.ExitCode = code
		st.Error = err.Error()
		st.MonitorPid, st.MonitorStart = 0, 0
		st.FinishedAt = time.Now().UTC()
		m.r.SaveState(m.id, st)
		return false
	}
	m.r.SaveState(m.id, st)
	ok = true
	return true
}

// shouldRestart applies the restart policy to an exit with code.
func shouldRestart(p container.RestartPolicy, st *State, code int) bool {
	if st.ManuallyStopped {
		return false
	}
	switch p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		return true
	case container.RestartPolicyOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || st.RestartCount < p.MaximumRetryCount)
	}
	return false
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return 255
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
	return ps.ExitCode()
}

func waitPumps(wg *sync.WaitGroup, timeout time.Duration) {
	if wg == nil {
		return
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

// closeIO closes the container's stdin, console and log after an exit.
func (m *monitor) closeIO() {
	h := m.hub
	h.mu.Lock()
	if h.stdin != nil && h.stdin != h.console {
		h.stdin.Close()
	}
	h.stdin = nil
	if h.console != nil {
		h.console.Close()
		h.console = nil
	}
	h.mu.Unlock()
	if h.log != nil && h.log.f != nil {
		h.log.mu.Lock()
		h.log.f.Close()
		h.log.f = nil
		h.log.mu.Unlock()
	}
}
