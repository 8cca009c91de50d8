package main

import (
	"github.com/berth-project/berth/runtime"
	"github.com/spf13/cobra"
)

func newKillCommand(cli *CLI) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := runtime.ParseSignal(signal)
			if err != nil {
				return daemonError(cli, err)
			}
			rt, err := openContainers(cli)
			if err != nil {
				return err
			}
			return forEachArg(cli, args, func(name string) error {
				return rt.Kill(name, sig)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}
