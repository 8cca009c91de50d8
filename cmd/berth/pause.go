package main

import (
	"fmt"

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

// forEachContainer runs fn for every argument, printing the argument on success and Docker's
// daemon error line on failure; berth exits 1 if any failed.
func forEachContainer(cli *CLI, args []string, fn func(rt *runtime.Runtime, name string) error) error {
	rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
	if err != nil {
		return err
	}
	failed := false
	for _, name := range args {
		if err := fn(rt, name); err != nil {
			fmt.Fprintln(cli.Err, "Error response from daemon: "+err.Error())
			failed = true
			continue
		}
		fmt.Fprintln(cli.Out, name)
	}
	if failed {
		return &StatusError{Code: 1}
	}
	return nil
}
