package main

import (
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
			return forEachArg(cli, args, func(name string) error {
				return store.Remove(name, volume.RemoveOptions{Force: force})
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}
