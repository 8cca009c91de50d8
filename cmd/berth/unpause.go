package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/runtime"
)

// newUnpauseCommand is `unpause CONTAINER...`.
func newUnpauseCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEachContainer(cli, args, func(rt *runtime.Runtime, name string) error {
				return rt.Unpause(name)
			})
		},
	}
}
