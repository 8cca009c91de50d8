package main

import "github.com/spf13/cobra"

// addCommitCommands registers commit, diff and export (top level and under "container").
func addCommitCommands(root, container *cobra.Command, cli *CLI) {
}
