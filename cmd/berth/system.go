package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Version is berth's version, set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// addSystemCommands registers version, info and the like on root.
func addSystemCommands(root *cobra.Command, cli *CLI) {
	root.AddCommand(newVersionCommand(cli))
}

func newVersionCommand(cli *CLI) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the berth version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cli.Out, "Client:\n Version:\t%s\n Go version:\t%s\n OS/Arch:\t%s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}
