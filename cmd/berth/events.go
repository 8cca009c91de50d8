package main

import "github.com/spf13/cobra"

// addEventsCommands registers events (top level and under "system").
func addEventsCommands(root, system *cobra.Command, cli *CLI) {
}
