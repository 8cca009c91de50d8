package runtime

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/procfs"
	"github.com/berth-project/berth/internal/trace"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The monitor's start of a container: what to start (the CLI's orders), rootfs, network, the
// libcontainer container and its first process.

// initLogLevel is the log level handed to libcontainer's init (and nsexec), logrus's in this
// process, as a number, the way libcontainer wants it.
func initLogLevel() string { return strconv.Itoa(int(logrus.GetLevel())) }

// monitorOrders waits for the CLI's word on descriptor 4 to start container id (args[0]):
// "start", or "attach" to wait for an attach client first. Without descriptor 4 (a monitor
// started by hand) the command line's optional "attach" stands. ok is false when the CLI closed
// the pipe without a word: it did not create the container.
func monitorOrders(args []string) (id string, attach bool, ok bool) {
	id = args[0]
	orders := os.NewFile(4, "orders")
	buf := make([]byte, 16)
	n := 0
	for n < len(buf) {
		k, err := orders.Read(buf[n:])
		n += k
		if err != nil || k == 0 || buf[n-1] == '\n' {
			if errors.Is(err, syscall.EBADF) || errors.Is(err, os.ErrInvalid) {
				return id, len(args) > 1 && args[1] == "attach", true
			}
			break
		}
	}
	orders.Close()
	switch strings.TrimSpace(string(buf[:n])) {
	case "start":
		return id, false, true
	case "attach":
		return id, true, true
	}
	return "", false, false
}

// start brings the container up once: rootfs, network, libcontainer container and process. It
// fills st (pid, start time, network) and returns the exit code to report on failure.
func (m *monitor) start(st *State, hello attachHello) (int, error) {
	rec, l := m.rec, m.r.Layout
	dir := l.ContainerDir(m.id)
	rootfs, err := mountRootfs(l, rec)
	if err != nil {
		return 125, err
	}
	trace.Mark("rootfs mounted")
	// The container's init finds the seccomp cache next to the rootfs (internal/seccompcache).
	if err := os.Mkdir(l.SeccompDir(), 0o700); err != nil && !os.IsExist(err) {
		return 125, fmt.Errorf("seccomp cache: %w", err)
	}
	ns, err := setupNetwork(l, rec, st)
	if err != nil {
		return 125, err // Docker's own words ("Bind for 0.0.0.0:3344 failed: port is already allocated")
	}
	trace.Mark("network set up")
	extra, err := specMounts(l, rec, rootfs)
	if err != nil {
		return 125, err
	}
	u, err := resolveUser(rootfs, rec.Config.User, rec.HostConfig.GroupAdd)
	if err != nil {
		return 125, err
	}
	initBin := ""
	if rec.HostConfig.Init != nil && *rec.HostConfig.Init {
		initBin, _ = os.Readlink("/proc/self/exe")
	}
	trace.Mark("mounts and user resolved")
	spec, err := buildSpec(rec, specInput{Rootfs: rootfs, Net: ns, User: u, Mounts: extra, Dir: dir, InitBinary: initBin})
	if err != nil {
		return 125, err
	}
	cfg, err := toLibcontainer(m.id, spec, rec.HostConfig, extra)
	if err != nil {
		return 125, err
	}
	trace.Mark("libcontainer config built")
	destroyLibcontainer(l, m.id)
	lc, err := libcontainer.Create(l.RuntimeDir(), m.id, cfg)
	if err != nil {
		return 125, fmt.Errorf("create container: %w", err)
	}
	m.lc = lc
	p := &libcontainer.Process{
		Args:    spec.Process.Args,
		Env:     spec.Process.Env,
		Cwd:     spec.Process.Cwd,
		UID:     u.UID,
		GID:     u.GID,
		Init:    true,
		Rlimits: cfg.Rlimits,
		// Without a level nsexec logs at debug, a line on the log pipe for each of its steps.
		LogLevel: initLogLevel(),
	}
	for _, g := range u.Sgids {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}
	logf, err := os.OpenFile(l.LogPath(m.id), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return 125, fmt.Errorf("open log: %w", err)
	}
	m.hub.log = &logWriter{f: logf}
	var wg sync.WaitGroup
	var closeAfter []*os.File
	var consoleParent *os.File
	if rec.Config.Tty {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return 125, err
		}
		p.ConsoleSocket = child
		p.ConsoleHeight, p.ConsoleWidth = hello.Height, hello.Width
		consoleParent = parent
		closeAfter = append(closeAfter, child)
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return 125, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			return 125, err
		}
		p.Stdout, p.Stderr = outW, errW
		closeAfter = append(closeAfter, outW, errW)
		m.outR, m.errR = outR, errR
		m.pumpPipes(&wg)
		if rec.Config.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				return 125, err
			}
			p.Stdin = inR
			closeAfter = append(closeAfter, inR)
			m.hub.mu.Lock()
			m.hub.stdin = inW
			m.hub.mu.Unlock()
		}
	}
	trace.Mark("libcontainer run")
	runErr := lc.Run(p)
	trace.Mark("process runs")
	for _, f := range closeAfter {
		f.Close()
	}
	if runErr != nil {
		if consoleParent != nil {
			consoleParent.Close()
		}
		m.hub.mu.Lock()
		if m.hub.stdin != nil {
			m.hub.stdin.Close()
			m.hub.stdin = nil
		}
		m.hub.mu.Unlock()
		wg.Wait()
		logf.Close()
		code, msg := startErrorCode(runErr)
		return code, errors.New(msg)
	}
	m.proc = p
	if consoleParent != nil {
		master, err := receiveConsole(consoleParent, p)
		if err == nil {
			master, err = pollable(master)
		}
		if err != nil {
			return 125, err
		}
		m.hub.mu.Lock()
		m.hub.console = master
		if rec.Config.OpenStdin {
			m.hub.stdin = master
		}
		m.hub.mu.Unlock()
		m.pumpConsole(&wg)
	}
	m.pumps = &wg
	pid, _ := p.Pid()
	now := time.Now().UTC()
	st.Status = StatusRunning
	st.Pid = pid
	st.PidStart = procfs.StartTime(pid)
	st.MonitorPid = os.Getpid()
	st.MonitorStart = procfs.StartTime(st.MonitorPid)
	st.ExitCode = 0
	st.Error = ""
	st.OOMKilled = false
	st.StartedAt = now
	st.ManuallyStopped = false
	m.r.event(rec, "start", nil)
	return 0, nil
}
