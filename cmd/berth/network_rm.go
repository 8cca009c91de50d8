package main

import (
	"errors"
	"fmt"

	"github.com/berth-project/berth/internal/errdefs"

	"github.com/spf13/cobra"
)

// newNetworkRmCommand is `berth network rm NETWORK...`: each removed network is printed as given.
func newNetworkRmCommand(cli *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    requiresMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := openNetworks(cli)
			if err != nil {
				return err
			}
			failed := false
			for _, name := range args {
				if err := s.Remove(name); err != nil {
					if force && errors.Is(err, errdefs.ErrNotFound) {
						continue
					}
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
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}
