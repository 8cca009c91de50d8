package main

import (
	"github.com/spf13/cobra"
)

func newRestartCommand(cli *CLI) *cobra.Command {
	var seconds int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := openContainers(cli)
			if err != nil {
				return err
			}
			var timeout *int
			if cmd.Flags().Changed("time") {
				timeout = &seconds
			}
			return forEachArg(cli, args, func(name string) error {
				return rt.Restart(name, timeout)
			})
		},
	}
	cmd.Flags().IntVarP(&seconds, "time", "t", 10, "Seconds to wait before killing the container")
	return cmd
}
