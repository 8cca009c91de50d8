package main

import (
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
			return forEachArg(cli, args, func(name string) error {
				return rt.Stop(name, timeout)
			})
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.time, "time", "t", 10, "Seconds to wait before killing the container")
	f.IntVar(&o.time, "timeout", 10, "Seconds to wait before killing the container")
	f.MarkHidden("timeout")
	return cmd
}
