package main

import "github.com/spf13/cobra"

// addContainerCommands registers the container commands (top-level aliases included) on root.
func addContainerCommands(root *cobra.Command, cli *CLI) {
}
