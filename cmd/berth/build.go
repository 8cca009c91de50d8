package main

import "github.com/spf13/cobra"

// addBuildCommands registers build (top level and "image build").
func addBuildCommands(root *cobra.Command, cli *CLI) {
}
