package main

import (
	"errors"
	"io"
	"os"
	"os/signal"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/runtime"
	"github.com/moby/term"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

type attachOptions struct {
	noStdin    bool
	sigProxy   bool
	detachKeys string
}

func newAttachCommand(cli *CLI) *cobra.Command {
	o := &attachOptions{}
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := openContainers(cli)
			if err != nil {
				return err
			}
			c, err := rt.Get(args[0])
			if err != nil {
				return daemonError(cli, err)
			}
			if c.Status == runtime.StatusPaused {
				return daemonError(cli, errdefs.Conflict("You cannot attach to a paused container, unpause it first"))
			}
			if !c.Running() {
				return daemonError(cli, errdefs.Conflict("You cannot attach to a stopped container, start it first"))
			}
			keys, err := runtime.ParseDetachKeys(o.detachKeys)
			if err != nil {
				return daemonError(cli, err)
			}
			a := streamSetup{
				stdin: c.Config.OpenStdin && !o.noStdin, tty: c.Config.Tty,
				sigProxy: o.sigProxy && !c.Config.Tty, keys: keys,
			}
			h, w := a.prepare(cli)
			conn, err := rt.DialAttach(c, runtime.AttachOptions{Stdin: a.stdin, Stdout: true, Stderr: true, Height: h, Width: w})
			if err != nil {
				a.restore()
				return daemonError(cli, err)
			}
			if a.tty && h > 0 {
				conn.Resize(h, w)
			}
			code, err := a.stream(cli, rt, c, conn)
			if err != nil {
				return err
			}
			if code != 0 {
				return &StatusError{Code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.noStdin, "no-stdin", false, "Do not attach STDIN")
	f.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// daemonError prints err as Docker prints a daemon error and makes berth exit 1 (or with the
// code err already carries).
func daemonError(cli *CLI, err error) error {
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	printDaemonError(cli, err)
	return errDaemonReported
}

// streamSetup is an attached session's terminal and signal handling, shared by run, start -a and
// attach.
type streamSetup struct {
	stdin, tty, sigProxy bool
	keys                 []byte

	rawState *term.State
	inFd     uintptr
}

// prepare puts the terminal in raw mode for a tty session with stdin and returns its size.
func (s *streamSetup) prepare(cli *CLI) (uint16, uint16) {
	fd, isTerm := term.GetFdInfo(cli.In)
	s.inFd = fd
	if !s.tty {
		return 0, 0
	}
	var h, w uint16
	if outFd, ok := term.GetFdInfo(cli.Out); ok {
		if ws, err := term.GetWinsize(outFd); err == nil {
			h, w = ws.Height, ws.Width
		}
	} else if isTerm {
		if ws, err := term.GetWinsize(fd); err == nil {
			h, w = ws.Height, ws.Width
		}
	}
	if s.stdin && isTerm {
		if st, err := term.SetRawTerminal(fd); err == nil {
			s.rawState = st
		}
	}
	return h, w
}

func (s *streamSetup) restore() {
	if s.rawState != nil {
		term.RestoreTerminal(s.inFd, s.rawState)
		s.rawState = nil
	}
}

// stream runs the session until the container exits (its code) or the user detaches (0).
// untilDone passes on what arrives on sigs until done closes.
func untilDone(sigs <-chan os.Signal, done <-chan struct{}) <-chan os.Signal {
	out := make(chan os.Signal)
	go func() {
		defer close(out)
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				select {
				case out <- sig:
				case <-done:
					return
				}
			}
		}
	}()
	return out
}

func (s *streamSetup) stream(cli *CLI, rt *runtime.Runtime, c *runtime.Container, conn *runtime.AttachConn) (int, error) {
	defer s.restore()
	defer conn.Close()
	// Signal handlers stay installed when the stream ends, without signal.Stop: Stop waits for
	// the runtime's signal delivery to go idle (~6 ms here, on every run), and the command ends
	// with the stream. Signals that arrive after that are dropped.
	done := make(chan struct{})
	defer close(done)
	if s.tty {
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range untilDone(winch, done) {
				if ws, err := term.GetWinsize(s.inFd); err == nil {
					conn.Resize(ws.Height, ws.Width)
				} else if outFd, ok := term.GetFdInfo(cli.Out); ok {
					if ws, err := term.GetWinsize(outFd); err == nil {
						conn.Resize(ws.Height, ws.Width)
					}
				}
			}
		}()
	}
	if s.sigProxy {
		sigs := make(chan os.Signal, 16)
		signal.Notify(sigs)
		go func() {
			for sig := range untilDone(sigs, done) {
				us, ok := sig.(unix.Signal)
				if !ok || us == unix.SIGCHLD || us == unix.SIGWINCH || us == unix.SIGURG || us == unix.SIGPIPE {
					continue
				}
				rt.Signal(c, us)
			}
		}()
	}
	var in io.Reader
	if s.stdin {
		in = cli.In
	}
	var stderr io.Writer = cli.Err
	if s.tty {
		stderr = cli.Out
	}
	code, err := conn.Stream(in, cli.Out, stderr, s.keys)
	if errors.Is(err, runtime.ErrDetached) {
		s.restore()
		return 0, nil
	}
	if err != nil {
		s.restore()
		return 125, &StatusError{Code: 125, Msg: err.Error()}
	}
	return code, nil
}
