package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/trace"
	"golang.org/x/sys/unix"
)

// The monitor's hand-over to the idle loop in C (cmd/berth/internal/idlemon) and back.
const (
	// IdleMonitorArg is argv[1] of a monitor in the idle loop: `berth __berth-idle ROOT
	// RUNROOT ID`, with BERTH_IDLE in its environment.
	IdleMonitorArg = "__berth-idle"
	// ExitedMonitorArg is argv[1] of a monitor back from the idle loop after the container's
	// process exited: `berth __berth-monitor-exited ROOT RUNROOT ID`, with BERTH_EXITED.
	ExitedMonitorArg = "__berth-monitor-exited"
)

// idleEligible tells whether the idle loop can look after the container now: it copies output
// (pipes, or the terminal of -t) to the log and to attach clients that come later, passes their
// input to the container's stdin (-i) and their resizes to its terminal, holds the published
// ports and serves their IPv6 proxies; it takes over no client.
func (m *monitor) idleEligible() bool {
	if m.proc == nil || m.hub.log == nil || m.rec.Config == nil {
		return false
	}
	if _, ok := m.ln.(*net.UnixListener); !ok {
		return false
	}
	m.hub.mu.Lock()
	defer m.hub.mu.Unlock()
	if m.rec.Config.Tty {
		if m.hub.console == nil {
			return false
		}
	} else if m.outR == nil || m.errR == nil {
		return false
	}
	if m.hub.stdin != nil {
		if _, ok := m.hub.stdin.(*os.File); !ok {
			return false
		}
	}
	return len(m.hub.clients) == 0
}

// idleStreams are the descriptors the idle loop takes over, -1 for none.
type idleStreams struct {
	out, err, in int
	tty          bool
}

// stopPumps stops the output pumps where they are (a partial line goes to the log; what the
// container writes meanwhile waits in the pipe or terminal) and returns what the idle loop is
// to take over, or false when a pump cannot be stopped.
func (m *monitor) stopPumps() (idleStreams, bool) {
	now := time.Now()
	s := idleStreams{out: -1, err: -1, in: -1}
	h := m.hub
	h.mu.Lock()
	console, stdin := h.console, h.stdin
	h.mu.Unlock()
	if console != nil {
		if console.SetReadDeadline(now) != nil {
			return s, false
		}
	} else {
		m.outR.SetReadDeadline(now)
		m.errR.SetReadDeadline(now)
	}
	waitPumps(m.pumps, time.Second)
	if console != nil {
		s.out, s.tty = int(console.Fd()), true
	} else {
		s.out, s.err = int(m.outR.Fd()), int(m.errR.Fd())
	}
	if f, ok := stdin.(*os.File); ok && f != nil {
		s.in = int(f.Fd())
	}
	return s, true
}

// restartPumps undoes stopPumps.
func (m *monitor) restartPumps() {
	m.pumps = &sync.WaitGroup{}
	if m.hub.console != nil {
		m.hub.console.SetReadDeadline(time.Time{})
		m.pumpConsole(m.pumps)
		return
	}
	m.outR.SetReadDeadline(time.Time{})
	m.errR.SetReadDeadline(time.Time{})
	m.pumpPipes(m.pumps)
}

// waitExitOrIdle waits, without collecting it, until the container's process exits (false) or
// the monitor can hand it over to the idle loop (true). A monitor that cannot (stdin, a
// terminal, attached clients) gives its start-up memory back after shrinkDelay, and looks again
// every second.
func (m *monitor) waitExitOrIdle() bool {
	pid, err := m.proc.Pid()
	if err != nil {
		return false
	}
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		shrinkMonitor(m.r.Layout)
		return false
	}
	defer unix.Close(pfd)
	wait, shrunk := shrinkDelay, false
	for {
		fds := []unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(wait/time.Millisecond))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n > 0 {
			return false
		}
		if m.idleEligible() {
			return true
		}
		if !shrunk {
			shrinkMonitor(m.r.Layout)
			shrunk = true
		}
		wait = time.Second
	}
}

// goIdle executes berth again as the idle loop, handing over the container's output pipes, the
// attach socket and the log. It runs on the thread that started the container's process (the
// init's parent-death signal is tied to it). It returns only when the hand-over could not be
// made, with the pumps and the attach socket working again.
func (m *monitor) goIdle() {
	ul := m.ln.(*net.UnixListener)
	streams, ok := m.stopPumps()
	if !ok {
		m.restartPumps()
		return
	}
	ul.SetUnlinkOnClose(false)
	lf, err := ul.File()
	if err == nil {
		ul.Close() // the accept loop ends; the socket stays in lf
	}
	resume := func() {
		if lf != nil {
			if ln, err := net.FileListener(lf); err == nil {
				m.ln = ln
				go m.acceptLoop(ln)
			}
			lf.Close()
		}
		m.restartPumps()
	}
	if err != nil || !m.idleEligible() { // a client came in meanwhile
		resume()
		return
	}
	socks, resumePorts, err := handoverPorts(m.id)
	if err != nil {
		resume()
		return
	}
	var ports []string
	for _, sk := range socks {
		if sk.Target != "" {
			ports = append(ports, fmt.Sprintf("%d@%s", sk.FD, sk.Target))
		} else {
			ports = append(ports, strconv.Itoa(sk.FD))
		}
	}
	pid, _ := m.proc.Pid()
	var fds []uintptr
	for _, fd := range []int{streams.out, streams.err, streams.in, int(lf.Fd()), int(m.hub.log.f.Fd())} {
		if fd >= 0 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
			fds = append(fds, uintptr(fd))
		}
	}
	// ports last: its list is separated by semicolons.
	env := append(monitorEnv(), fmt.Sprintf("BERTH_IDLE=pid=%d,out=%d,err=%d,in=%d,tty=%d,once=%d,listen=%d,log=%d,delay=%d,notified=%d,ports=%s",
		pid, streams.out, streams.err, streams.in, flag(streams.tty), flag(m.hub.stdinOnce), lf.Fd(), m.hub.log.f.Fd(),
		m.delay, flag(m.notified), strings.Join(ports, ";")))
	argv := []string{"berth", IdleMonitorArg, m.r.Layout.Root, m.r.Layout.RunRoot, m.id}
	trace.Mark("monitor idle")
	// The copy on the runroot's tmpfs maps in small pages: only what the loop touches is
	// resident. Where that tmpfs is mounted noexec, the binary itself.
	if exe := m.r.Layout.sharedExeCopy(); exe != "" {
		unix.Exec(exe, argv, env)
	}
	err = unix.Exec(selfExe, argv, env)
	for _, fd := range fds {
		unix.FcntlInt(fd, unix.F_SETFD, unix.FD_CLOEXEC)
	}
	for _, sk := range socks {
		unix.Close(sk.FD)
	}
	resumePorts()
	resume()
}

// exitedSpec is what the idle loop hands back (BERTH_EXITED).
type exitedSpec struct {
	code     int
	finished time.Time
	listen   int
	delay    time.Duration
	notified bool
	clients  []exitedClient
	held     []int // the published ports' sockets, to close
}

// exitedClient is an attach client the idle loop had: its descriptor and streams.
type exitedClient struct {
	fd             int
	stdout, stderr bool
}

// parseExited reads BERTH_EXITED: code=N,time=UNIXNANO,listen=FD,delay=NS,notified=0|1,
// clients=FD:OE;FD:OE (O and E: 1 when the client wants stdout, stderr).
func parseExited(s string) (exitedSpec, error) {
	var e exitedSpec
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		seen[k] = true
		if k == "held" {
			for _, f := range strings.Split(v, ";") {
				if f == "" {
					continue
				}
				n, err := strconv.Atoi(f)
				if err != nil {
					return e, fmt.Errorf("BERTH_EXITED: bad held socket %q", f)
				}
				e.held = append(e.held, n)
			}
			continue
		}
		if k == "clients" {
			for _, c := range strings.Split(v, ";") {
				if c == "" {
					continue
				}
				fd, flags, ok := strings.Cut(c, ":")
				n, err := strconv.Atoi(fd)
				if !ok || err != nil || len(flags) != 2 {
					return e, fmt.Errorf("BERTH_EXITED: bad client %q", c)
				}
				e.clients = append(e.clients, exitedClient{fd: n, stdout: flags[0] == '1', stderr: flags[1] == '1'})
			}
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return e, fmt.Errorf("BERTH_EXITED: bad %s %q", k, v)
		}
		switch k {
		case "code":
			e.code = int(n)
		case "time":
			e.finished = time.Unix(0, n).UTC()
		case "listen":
			e.listen = int(n)
		case "delay":
			e.delay = time.Duration(n)
		case "notified":
			e.notified = n == 1
		}
	}
	for _, k := range []string{"code", "time", "listen"} {
		if !seen[k] {
			return e, fmt.Errorf("BERTH_EXITED: no %s in %q", k, s)
		}
	}
	if e.delay <= 0 {
		e.delay = firstRestartDelay
	}
	return e, nil
}

// MonitorExited is the entry point of a monitor back from the idle loop (see ExitedMonitorArg):
// the container's process exited; the monitor records it and applies the restart policy or
// --rm, then goes on looking after the container if it runs again. It returns the exit code.
func MonitorExited(args []string) int {
	trace.Mark("monitor exited")
	settleMonitorProcess() // a restart forks the container's init from this thread
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: berth "+ExitedMonitorArg+" ROOT RUNROOT ID")
		return 125
	}
	spec, err := parseExited(os.Getenv("BERTH_EXITED"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	// The container is down: its ports go (a restart reserves them again).
	for _, fd := range spec.held {
		unix.Close(fd)
	}
	r := &Runtime{Layout: Layout{Root: args[0], RunRoot: args[1]}}
	m := &monitor{r: r, id: args[2], stopped: make(chan struct{}), delay: spec.delay, notified: spec.notified}
	m.hub = &hub{}
	if c, err := r.load(m.id); err == nil {
		m.rec = &c.Record
		m.hub.stdinOnce = c.Config != nil && c.Config.StdinOnce
	}
	lf := os.NewFile(uintptr(spec.listen), "attach")
	if ln, err := net.FileListener(lf); err == nil {
		m.ln = ln
	}
	lf.Close()
	defer m.closeListener()
	for _, ec := range spec.clients {
		f := os.NewFile(uintptr(ec.fd), "attach-client")
		conn, err := net.FileConn(f)
		f.Close()
		if err != nil {
			continue
		}
		cl := &client{conn: conn, hello: attachHello{Stdout: ec.stdout, Stderr: ec.stderr}}
		m.hub.add(cl)
		go m.hub.serve(cl, bufio.NewReader(conn))
	}
	if m.ln != nil {
		go m.acceptLoop(m.ln)
	}
	m.watchSignals()
	if m.afterExit(spec.code, spec.finished) {
		m.loop()
	}
	return 0
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}
