package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

type stopOptions struct {
	time   int
	signal string
}

func newStopCommand(cli *CLI) *cobra.Command {
	o := &stopOptions{}
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := openContainers(cli)
			if err != nil {
				return err
			}
			var timeout *int
			if cmd.Flags().Changed("time") || cmd.Flags().Changed("timeout") {
				timeout = &o.time
			}
			failed := false
			for _, name := range args {
				if err := rt.Stop(name, timeout); err != nil {
					printDaemonError(cli, err)
					failed = true
					continue
				}
				fmt.Fprintln(cli.Out, name)
			}
			if failed {
				return errDaemonReported
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.time, "time", "t", 10, "Seconds to wait before killing the container")
	f.IntVar(&o.time, "timeout", 10, "Seconds to wait before killing the container")
	f.MarkHidden("timeout")
	return cmd
}
