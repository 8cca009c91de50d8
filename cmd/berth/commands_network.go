package main

import "github.com/spf13/cobra"

// addNetworkCommands registers the network commands (top-level aliases included) on root.
func addNetworkCommands(root *cobra.Command, cli *CLI) {
}
