package main

import (
	"github.com/spf13/cobra"
)

// newNetworkDisconnectCommand is `berth network disconnect [-f] NETWORK CONTAINER`.
func newNetworkDisconnectCommand(cli *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := openRuntimeForNetwork(cli)
			if err != nil {
				return err
			}
			return networkCmdError(cli, r.DisconnectNetwork(args[1], args[0], force))
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
