package main

import "github.com/spf13/cobra"

// addVolumeCommands registers the volume commands (top-level aliases included) on root.
func addVolumeCommands(root *cobra.Command, cli *CLI) {
}
