package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/trace"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// ExecOptions are exec's flags and streams.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Privileged bool
	Tty        bool
	// Interactive keeps stdin open (-i); without it the process reads /dev/null.
	Interactive bool
	// Detach starts the process and returns at once (-d).
	Detach bool

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Height, Width  uint16
	// OnConsole, with Tty, is called with the process's terminal (for resizes).
	OnConsole func(console *os.File)
}

// Exec runs a new process in running container id and returns its exit code. It is refused, in
// Docker's words, on a stopped or paused container.
func (r *Runtime) Exec(id string, o ExecOptions) (int, error) {
	fullID, err := r.Resolve(id)
	if err != nil {
		return -1, err
	}
	// libcontainer's state (~35 KB of JSON, mostly the seccomp profile) is decoded on another
	// thread while berth's own record is read and checked: the two cost about the same.
	lcc := make(chan loadedContainer, 1)
	go func() {
		lc, err := libcontainer.Load(r.Layout.RuntimeDir(), fullID)
		lcc <- loadedContainer{lc, err}
	}()
	c, err := r.Get(fullID)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			err = errdefs.NotFound("No such container: " + id)
		}
		return -1, err
	}
	// Docker's daemon names the container as it was asked for when paused, by ID when restarting.
	if c.Status == StatusPaused {
		return -1, errdefs.Conflict(fmt.Sprintf("Container %s is paused, unpause the container before exec", id))
	}
	if c.Status == StatusRestarting {
		return -1, errdefs.Conflict(fmt.Sprintf("Container %s is restarting, wait until the container is running", c.ID))
	}
	if c.Status != StatusRunning || !Alive(c.Pid, c.PidStart) {
		return -1, errdefs.Conflict(fmt.Sprintf("container %s is not running", c.ID))
	}
	if len(o.Cmd) == 0 {
		return -1, errdefs.Invalid("exec: no command specified")
	}
	execAttrs := map[string]string{"execID": ids.NewID()}
	r.event(&c.Record, execAction("exec_create", o.Cmd), execAttrs)
	userSpec := o.User
	if userSpec == "" {
		userSpec = c.Config.User
	}
	rootfs := "/proc/" + strconv.Itoa(c.Pid) + "/root"
	u, err := resolveUser(rootfs, userSpec, c.HostConfig.GroupAdd)
	if err != nil {
		return -1, err
	}
	env := mergeEnv(containerEnv(&c.Record, o.Tty), o.Env)
	cwd := o.WorkingDir
	if cwd == "" {
		cwd = c.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	p := &libcontainer.Process{
		Args: o.Cmd, Env: env, Cwd: cwd, UID: u.UID, GID: u.GID, Init: false,
		LogLevel: initLogLevel(),
	}
	for _, g := range u.Sgids {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}
	if o.Privileged {
		all := allCaps()
		p.Capabilities = &configs.Capabilities{Bounding: all, Permitted: all, Effective: all}
	} else if u.UID != 0 {
		caps, err := TweakCapabilities(defaultCaps, c.HostConfig.CapAdd, c.HostConfig.CapDrop, c.HostConfig.Privileged)
		if err != nil {
			return -1, err
		}
		p.Capabilities = &configs.Capabilities{Bounding: caps}
	}

	var consoleParent *os.File
	var closeAfter []*os.File
	if o.Tty && !o.Detach {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return -1, err
		}
		p.ConsoleSocket = child
		p.ConsoleHeight, p.ConsoleWidth = o.Height, o.Width
		consoleParent = parent
		closeAfter = append(closeAfter, child)
	} else if !o.Detach {
		if o.Interactive {
			p.Stdin = o.Stdin
		}
		p.Stdout, p.Stderr = o.Stdout, o.Stderr
	}
	// libcontainer passes GOMAXPROCS on to the exec's init, which pins itself to one P first
	// thing: starting it with one spares it a resize (stop the world, free a P's caches).
	if os.Getenv("GOMAXPROCS") == "" {
		os.Setenv("GOMAXPROCS", "1")
	}
	// The first process that os starts checks, by forking a child of its own, that pidfds work
	// (~0.3 ms): have that done now, while libcontainer's state is still being decoded, rather
	// than on the way to the fork of the exec's init.
	if self, err := os.FindProcess(os.Getpid()); err == nil {
		self.Release()
	}
	loaded := <-lcc
	if loaded.err != nil {
		for _, f := range closeAfter {
			f.Close()
		}
		if consoleParent != nil {
			consoleParent.Close()
		}
		return -1, fmt.Errorf("exec in %s: %w", c.Name, loaded.err)
	}
	trace.Mark("exec: container loaded")
	trace.Mark("exec: libcontainer run")
	r.event(&c.Record, execAction("exec_start", o.Cmd), execAttrs)
	runErr := loaded.lc.Run(p)
	trace.Mark("exec: process runs")
	for _, f := range closeAfter {
		f.Close()
	}
	if runErr != nil {
		if consoleParent != nil {
			consoleParent.Close()
		}
		code, msg := startErrorCode(runErr)
		r.execDieEvent(&c.Record, execAttrs, code)
		return code, &StartError{Code: code, Msg: msg}
	}
	if o.Detach {
		// The process is reparented when berth exits; nothing to collect.
		return 0, nil
	}
	var wg sync.WaitGroup
	if consoleParent != nil {
		master, err := receiveConsole(consoleParent, p)
		if err != nil {
			return -1, fmt.Errorf("exec: %w", err)
		}
		defer master.Close()
		if o.OnConsole != nil {
			o.OnConsole(master)
		}
		if o.Interactive && o.Stdin != nil {
			go io.Copy(master, o.Stdin)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(o.Stdout, master)
		}()
	}
	ps, err := p.Wait()
	trace.Mark("exec: exit seen")
	if err != nil && ps == nil {
		var ee interface{ ExitCode() int }
		if errors.As(err, &ee) {
			r.execDieEvent(&c.Record, execAttrs, ee.ExitCode())
			return ee.ExitCode(), nil
		}
		return -1, fmt.Errorf("exec: %w", err)
	}
	wg.Wait()
	r.execDieEvent(&c.Record, execAttrs, exitCode(ps))
	return exitCode(ps), nil
}

type loadedContainer struct {
	lc  *libcontainer.Container
	err error
}

// receiveConsole takes the terminal master that process p's init sends over consoleParent
// (closed here); when that fails it kills p.
func receiveConsole(consoleParent *os.File, p *libcontainer.Process) (*os.File, error) {
	master, err := utils.RecvFile(consoleParent)
	consoleParent.Close()
	if err != nil {
		p.Signal(unix.SIGKILL)
		p.Wait()
		return nil, fmt.Errorf("receive console: %w", err)
	}
	return master, nil
}
