package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/console"
)

// PTYProc is a berth command running on a pseudo-terminal, as in an interactive shell
// (Env.StartPTY): for `run -it`, attach, detach keys and resize tests.
type PTYProc struct {
	Cmd     *exec.Cmd
	Console console.Console // the master side: Write types, Resize changes the window

	out    syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
	res    Result
}

// StartPTY runs berth with args in a new session whose controlling terminal (stdin, stdout and
// stderr) is a fresh 24x80 pty. It is killed at the test's cleanup if still running.
func (e *Env) StartPTY(args ...string) *PTYProc {
	e.T.Helper()
	master, slavePath, err := console.NewPty()
	if err != nil {
		e.T.Fatalf("harness: new pty: %v", err)
	}
	if err := master.Resize(console.WinSize{Height: 24, Width: 80}); err != nil {
		master.Close()
		e.T.Fatalf("harness: pty size: %v", err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		e.T.Fatalf("harness: open %s: %v", slavePath, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &PTYProc{Console: master, cancel: cancel, done: make(chan struct{})}
	p.Cmd = e.Command(ctx, args...)
	p.Cmd.Stdin, p.Cmd.Stdout, p.Cmd.Stderr = slave, slave, slave
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.Cmd.Start(); err != nil {
		cancel()
		slave.Close()
		master.Close()
		e.T.Fatalf("harness: starting berth %s: %v", strings.Join(args, " "), err)
	}
	slave.Close()
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&p.out, master) // ends with EIO once every slave fd is closed
		close(copied)
	}()
	go func() {
		err := p.Cmd.Wait()
		select {
		case <-copied:
		case <-time.After(2 * time.Second):
		}
		p.res = Result{Stdout: p.out.String(), Code: exitCode(p.Cmd, err)}
		close(p.done)
		master.Close()
	}()
	e.mu.Lock()
	e.ptys = append(e.ptys, p)
	e.mu.Unlock()
	return p
}

// PID is the process ID of the berth command.
func (p *PTYProc) PID() int { return p.Cmd.Process.Pid }

// Write types s on the terminal ("\x10\x11" is Ctrl-P Ctrl-Q, "\x03" Ctrl-C, "\x04" Ctrl-D).
func (p *PTYProc) Write(s string) error {
	_, err := p.Console.Write([]byte(s))
	if err != nil {
		return fmt.Errorf("writing to pty: %w", err)
	}
	return nil
}

// Output returns everything the terminal showed so far (with the tty's \r\n line ends).
func (p *PTYProc) Output() string { return p.out.String() }

// Resize changes the terminal's window size (the command gets SIGWINCH).
func (p *PTYProc) Resize(rows, cols uint16) error {
	return p.Console.Resize(console.WinSize{Height: rows, Width: cols})
}

// WaitOutput waits up to timeout until the terminal has shown s; it reports whether it did.
func (p *PTYProc) WaitOutput(s string, timeout time.Duration) bool {
	return Eventually(timeout, func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		return strings.Contains(p.out.String(), s)
	}) && strings.Contains(p.out.String(), s)
}

// Exited reports whether the command has exited.
func (p *PTYProc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the command to exit; Stdout holds the whole terminal output.
// On timeout the session is killed and Code is -1.
func (p *PTYProc) Wait(timeout time.Duration) Result {
	select {
	case <-p.done:
		return p.res
	case <-time.After(timeout):
		p.Kill()
		r := p.res
		r.Stderr = fmt.Sprintf("[harness: killed after waiting %s]", timeout)
		return r
	}
}

// Kill kills the command's session (process group) and waits for it.
func (p *PTYProc) Kill() {
	if !p.Exited() {
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		p.cancel()
		<-p.done
	}
	p.cancel()
}
