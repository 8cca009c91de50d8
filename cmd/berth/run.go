package main

import (
	"fmt"

	"github.com/berth-project/berth/cmd/berth/internal/earlymon"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/trace"
	"github.com/berth-project/berth/runtime"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

func newRunCommand(cli *CLI) *cobra.Command {
	o := &containerOptions{}
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cli, cmd, o, args)
		},
	}
	flags := cmd.Flags()
	flags.SetInterspersed(false)
	addContainerFlags(flags, o)
	flags.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
	flags.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	return cmd
}

// startFailure turns a failed start into berth's exit: 126/127 for the command, else 125.
func startFailure(err error) error {
	if code, ok := runtime.IsStartError(err); ok {
		return &StatusError{Code: code, Msg: err.Error()}
	}
	return withCode(err, 125)
}

func runRun(cli *CLI, cmd *cobra.Command, o *containerOptions, args []string) error {
	if !o.detach && o.interactive && o.tty {
		if _, isTerm := term.GetFdInfo(cli.In); !isTerm {
			return &StatusError{Code: 1, Msg: "the input device is not a TTY"}
		}
	}
	keys, err := runtime.ParseDetachKeys(o.detachKeys)
	if err != nil {
		return withCode(err, 125)
	}
	rt, err := openContainers(cli)
	if err != nil {
		return withCode(err, 125)
	}
	// The monitor's process starts while the container is created (with the ID chosen here, so
	// that its command line names the container); without one (it could not be started) Start
	// starts its own.
	id := ids.NewID()
	mon := prestartMonitor(rt, id)
	c, err := createContainer(cmd.Context(), cli, cmd, o, args, id)
	if err != nil {
		mon.Abort()
		return withCode(err, 125)
	}
	trace.Mark("record created")
	cleanupFailed := func() {
		if o.autoRemove {
			rt.Remove(c.ID, runtime.RemoveOptions{Force: true, Volumes: true})
		}
	}
	if o.detach {
		if _, _, err := rt.Start(c.ID, runtime.StartOptions{Monitor: mon}); err != nil {
			cleanupFailed()
			return startFailure(err)
		}
		fmt.Fprintln(cli.Out, c.ID)
		return nil
	}

	s := streamSetup{
		stdin: c.Config.AttachStdin, tty: c.Config.Tty,
		sigProxy: o.sigProxy && !c.Config.Tty, keys: keys,
	}
	h, w := s.prepare(cli)
	// Start returns the container with the state it started in: the process ID for the signal
	// proxy.
	started, conn, err := rt.Start(c.ID, runtime.StartOptions{Monitor: mon, Attach: &runtime.AttachOptions{
		Stdin: c.Config.AttachStdin, Stdout: c.Config.AttachStdout, Stderr: c.Config.AttachStderr,
		Height: h, Width: w,
	}})
	if err != nil {
		s.restore()
		cleanupFailed()
		return startFailure(err)
	}
	c = started
	code, err := s.stream(cli, rt, c, conn)
	if err != nil {
		return err
	}
	if code != 0 {
		return &StatusError{Code: code}
	}
	return nil
}

// prestartMonitor returns a monitor for container id, yet to be created: the one this process
// started before its Go runtime (earlymon) if it did, else a new one; nil when none could be
// started (Start then starts its own).
func prestartMonitor(rt *runtime.Runtime, id string) *runtime.Monitor {
	if em, ok := earlymon.Take(); ok {
		if mon, err := rt.AdoptMonitor(em.Pid, em.Sync, em.Orders, id); err == nil {
			return mon
		}
	}
	mon, _ := rt.PrestartMonitor(id)
	return mon
}
