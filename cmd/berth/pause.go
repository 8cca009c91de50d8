package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/runtime"
)

// newPauseCommand is `pause CONTAINER...`.
func newPauseCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEachContainer(cli, args, func(rt *runtime.Runtime, name string) error {
				return rt.Pause(name)
			})
		},
	}
}

// forEachContainer is forEachArg with the containers opened first: fn gets the runtime too.
func forEachContainer(cli *CLI, args []string, fn func(rt *runtime.Runtime, name string) error) error {
	rt, err := openContainers(cli)
	if err != nil {
		return err
	}
	return forEachArg(cli, args, func(name string) error { return fn(rt, name) })
}
