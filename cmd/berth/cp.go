package main

import "github.com/spf13/cobra"

// addCopyCommands registers cp (top level and under "container").
func addCopyCommands(root, container *cobra.Command, cli *CLI) {
}
