package main

import (
	"strconv"

	"github.com/spf13/cobra"
)

func newWaitCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := openContainers(cli)
			if err != nil {
				return err
			}
			return forEachArgResult(cli, args, func(name string) (string, error) {
				code, err := rt.Wait(name)
				return strconv.Itoa(code), err
			})
		},
	}
}
