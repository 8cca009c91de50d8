package main

import (
	"os"
	"os/signal"

	"github.com/berth-project/berth/runtime"
	"github.com/moby/term"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

type execOptions struct {
	interactive, tty, detach, privileged bool
	env, envFile                         []string
	workdir, user, detachKeys            string
}

func newExecCommand(cli *CLI) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  requiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cli, o, args)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVarP(&o.detach, "detach", "d", false, "Detached mode: run command in the background")
	f.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to the command")
	f.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	f.StringArrayVar(&o.envFile, "env-file", nil, "Read in a file of environment variables")
	f.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func runExec(cli *CLI, o *execOptions, args []string) error {
	env, err := readEnv(o.envFile, o.env)
	if err != nil {
		return daemonError(cli, err)
	}
	rt, err := openContainers(cli)
	if err != nil {
		return err
	}
	eo := runtime.ExecOptions{
		Cmd: args[1:], Env: env, WorkingDir: o.workdir, User: o.user, Privileged: o.privileged,
		Tty: o.tty, Interactive: o.interactive, Detach: o.detach,
		Stdin: cli.In, Stdout: cli.Out, Stderr: cli.Err,
	}
	s := streamSetup{stdin: o.interactive, tty: o.tty}
	if o.tty && !o.detach {
		if o.interactive {
			if _, isTerm := term.GetFdInfo(cli.In); !isTerm {
				return &StatusError{Code: 1, Msg: "the input device is not a TTY"}
			}
		}
		eo.Height, eo.Width = s.prepare(cli)
		defer s.restore()
		eo.OnConsole = func(console *os.File) { watchResize(s.inFd, console) }
	}
	code, err := rt.Exec(args[0], eo)
	s.restore()
	if err != nil {
		if c, ok := runtime.IsStartError(err); ok {
			return &StatusError{Code: c, Msg: "OCI runtime exec failed: exec failed: unable to start container process: " + err.Error()}
		}
		return daemonError(cli, err)
	}
	if code != 0 {
		return &StatusError{Code: code}
	}
	return nil
}

// watchResize copies the user's terminal size to console now and on every SIGWINCH.
func watchResize(inFd uintptr, console *os.File) {
	apply := func() {
		if ws, err := term.GetWinsize(inFd); err == nil {
			term.SetWinsize(console.Fd(), ws)
		}
	}
	apply()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		for range winch {
			apply()
		}
	}()
}
