package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Proc is a berth command running in the background (Env.Start).
type Proc struct {
	Cmd   *exec.Cmd
	Stdin io.WriteCloser // the command's standard input; close it to send EOF

	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	done           chan struct{}
	res            Result
}

// Start runs berth with args in the background, in its own process group. It is killed at the
// test's cleanup if still running.
func (e *Env) Start(args ...string) *Proc {
	e.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proc{cancel: cancel, done: make(chan struct{})}
	p.Cmd = e.Command(ctx, args...)
	p.Cmd.Stdout, p.Cmd.Stderr = &p.stdout, &p.stderr
	stdin, err := p.Cmd.StdinPipe()
	if err != nil {
		cancel()
		e.T.Fatalf("harness: stdin pipe: %v", err)
	}
	p.Stdin = stdin
	if err := p.Cmd.Start(); err != nil {
		cancel()
		e.T.Fatalf("harness: starting berth %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		err := p.Cmd.Wait()
		p.res = Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), Code: exitCode(p.Cmd, err)}
		close(p.done)
	}()
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p
}

// PID is the process ID of the berth command.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Stdout returns what the command has printed on stdout so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr returns what the command has printed on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Signal sends sig to the berth process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error { return syscall.Kill(p.PID(), sig) }

// Done is closed when the command has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the command has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the command to exit and returns its result; on timeout the
// process group is killed and Code is -1.
func (p *Proc) Wait(timeout time.Duration) Result {
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
		r := p.res
		r.Stderr += fmt.Sprintf("\n[harness: killed after waiting %s]", timeout)
		return r
	}
	return p.res
}

// Kill kills the command's whole process group and waits for it.
func (p *Proc) Kill() {
	if !p.Exited() {
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		p.cancel()
		<-p.done
	}
	p.cancel()
}

// WaitOutput waits up to timeout until stdout or stderr contains s; it reports whether it did.
func (p *Proc) WaitOutput(s string, timeout time.Duration) bool {
	has := func() bool {
		return strings.Contains(p.stdout.String(), s) || strings.Contains(p.stderr.String(), s)
	}
	deadline := time.Now().Add(timeout)
	for {
		if has() {
			return true
		}
		if p.Exited() {
			return has() // output is complete now
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Eventually polls cond every 50ms until it is true or timeout passes; it reports the result.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
