package main

import "github.com/spf13/cobra"

// addImageCommands registers the image commands (top-level aliases included) on root.
func addImageCommands(root *cobra.Command, cli *CLI) {
}
