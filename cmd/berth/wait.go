package main

import (
	"fmt"

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
			failed := false
			for _, name := range args {
				code, err := rt.Wait(name)
				if err != nil {
					printDaemonError(cli, err)
					failed = true
					continue
				}
				fmt.Fprintln(cli.Out, code)
			}
			if failed {
				return errDaemonReported
			}
			return nil
		},
	}
}
