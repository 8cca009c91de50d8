package main

import (
	"errors"

	"github.com/berth-project/berth/network"
	"github.com/spf13/cobra"
)

// addNetworkCommands registers the network commands (top-level aliases included) on root.
func addNetworkCommands(root *cobra.Command, cli *CLI) {
	cmd := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return c.Help()
		},
	}
	cmd.AddCommand(
		newNetworkCreateCommand(cli),
		newNetworkLsCommand(cli),
		newNetworkInspectCommand(cli),
		newNetworkRmCommand(cli),
		newNetworkPruneCommand(cli),
		newNetworkConnectCommand(cli),
		newNetworkDisconnectCommand(cli),
	)
	root.AddCommand(cmd)
	root.AddCommand(newPortCommand(cli))
}

// openNetworks opens the network store of the CLI's --root and --runroot.
func openNetworks(cli *CLI) (*network.Store, error) { return network.Open(cli.Root, cli.RunRoot) }

// networkCmdError prints err as Docker's CLI prints a daemon error and makes berth exit 1.
func networkCmdError(cli *CLI, err error) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	printDaemonError(cli, err)
	return errDaemonReported
}
