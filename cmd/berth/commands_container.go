package main

import "github.com/spf13/cobra"

// addContainerCommands registers the container commands (top-level aliases included) on root.
func addContainerCommands(root *cobra.Command, cli *CLI) {
	container := &cobra.Command{
		Use:   "container COMMAND",
		Short: "Manage containers",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, args []string) error { return c.Help() },
	}
	// Life cycle (runtime-core): each is both "berth X" and "berth container X".
	for _, mk := range []func(*CLI) *cobra.Command{
		newRunCommand, newCreateCommand, newStartCommand, newStopCommand, newRestartCommand,
		newKillCommand, newWaitCommand, newLogsCommand, newExecCommand, newAttachCommand,
	} {
		root.AddCommand(mk(cli))
		container.AddCommand(mk(cli))
	}
	root.AddCommand(newRmCommand(cli, "rm"))
	container.AddCommand(newRmCommand(cli, "rm", "remove"))

	// Filesystem commands: commit, diff and export (commit.go), cp (cp.go).
	addCommitCommands(root, container, cli)
	addCopyCommands(root, container, cli)

	root.AddCommand(container)

	// --- runtime-observe commands (ps, inspect, top, stats, pause, unpause, rename, update,
	// container prune): registered by their own function, which finds the "container" group. ---
	addObserveCommands(root, cli)
	// --- end of runtime-observe block ---
}
