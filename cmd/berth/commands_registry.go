package main

import "github.com/spf13/cobra"

// addRegistryCommands registers login, logout and search (top level).
func addRegistryCommands(root *cobra.Command, cli *CLI) {
	root.AddCommand(newLoginCommand(cli), newLogoutCommand(cli), newSearchCommand(cli))
}
