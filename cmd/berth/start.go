package main

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/runtime"
	"github.com/spf13/cobra"
)

type startOptions struct {
	attach      bool
	interactive bool
	detachKeys  string
}

func newStartCommand(cli *CLI) *cobra.Command {
	o := &startOptions{}
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := openContainers(cli)
			if err != nil {
				return err
			}
			if o.attach || o.interactive {
				if len(args) > 1 {
					// docker/cli's words, printed as they are (no "berth:" prefix).
					fmt.Fprintln(cli.Err, "you cannot start and attach multiple containers at once")
					return &StatusError{Code: 1}
				}
				return startAttached(cli, rt, o, args[0])
			}
			var failed []string
			for _, name := range args {
				if _, _, err := rt.Start(name, runtime.StartOptions{}); err != nil {
					printDaemonError(cli, err)
					failed = append(failed, name)
					continue
				}
				fmt.Fprintln(cli.Out, name)
			}
			if len(failed) > 0 {
				fmt.Fprintln(cli.Err, "Error: failed to start containers: "+strings.Join(failed, ", "))
				return &StatusError{Code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "Attach container's STDIN")
	f.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func startAttached(cli *CLI, rt *runtime.Runtime, o *startOptions, name string) error {
	c, err := rt.Get(name)
	if err != nil {
		return daemonError(cli, err)
	}
	keys, err := runtime.ParseDetachKeys(o.detachKeys)
	if err != nil {
		return daemonError(cli, err)
	}
	s := streamSetup{stdin: o.interactive && c.Config.OpenStdin, tty: c.Config.Tty, sigProxy: !c.Config.Tty, keys: keys}
	h, w := s.prepare(cli)
	_, conn, err := rt.Start(c.ID, runtime.StartOptions{Attach: &runtime.AttachOptions{
		Stdin: s.stdin, Stdout: true, Stderr: true, Height: h, Width: w,
	}})
	if err != nil {
		s.restore()
		return daemonError(cli, err)
	}
	if nc, err := rt.Get(c.ID); err == nil {
		c = nc
	}
	code, err := s.stream(cli, rt, c, conn)
	if err != nil {
		return err
	}
	if code != 0 {
		return &StatusError{Code: code}
	}
	return nil
}
