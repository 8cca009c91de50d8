package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/runtime"
)

// newRenameCommand is `rename CONTAINER NEW_NAME`.
func newRenameCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" || args[1] == "" {
				return errors.New("Neither old nor new names may be empty")
			}
			rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
			if err != nil {
				return err
			}
			id, err := rt.Resolve(args[0])
			if err != nil {
				return observeError(cli, err)
			}
			return observeError(cli, rt.Rename(id, args[1]))
		},
	}
}
