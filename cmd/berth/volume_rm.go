package main

import (
	"fmt"

	"github.com/berth-project/berth/volume"
	"github.com/spf13/cobra"
)

// newVolumeRmCommand is `berth volume rm [-f] VOLUME...`: a volume a container uses is refused.
func newVolumeRmCommand(cli *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    requiresMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openVolumes(cli)
			if err != nil {
				return err
			}
			failed := false
			for _, name := range args {
				if err := store.Remove(name, volume.RemoveOptions{Force: force}); err != nil {
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
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}
