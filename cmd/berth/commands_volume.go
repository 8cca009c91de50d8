package main

import (
	"errors"
	"fmt"

	"github.com/berth-project/berth/volume"
	"github.com/spf13/cobra"
)

// addVolumeCommands registers the volume commands (top-level aliases included) on root.
func addVolumeCommands(root *cobra.Command, cli *CLI) {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return c.Help()
		},
	}
	cmd.AddCommand(
		newVolumeCreateCommand(cli),
		newVolumeLsCommand(cli),
		newVolumeInspectCommand(cli),
		newVolumeRmCommand(cli),
		newVolumePruneCommand(cli),
	)
	root.AddCommand(cmd)
}

// openVolumes opens the volume store of the CLI's --root, recording its events in --runroot.
func openVolumes(cli *CLI) (*volume.Store, error) {
	s, err := volume.Open(cli.Root)
	if err != nil {
		return nil, err
	}
	s.EventsRunRoot = cli.RunRoot
	return s, nil
}

// errDaemonReported is returned after an error has already been printed in Docker's
// "Error response from daemon: ..." form: berth exits 1 without printing more.
var errDaemonReported = &StatusError{Code: 1}

// printDaemonError prints err as Docker's CLI prints an error the daemon returned.
func printDaemonError(cli *CLI, err error) {
	fmt.Fprintln(cli.Err, "Error response from daemon: "+err.Error())
}

// volumeCmdError prints err Docker's way and returns the error that makes berth exit 1.
func volumeCmdError(cli *CLI, err error) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	printDaemonError(cli, err)
	return errDaemonReported
}
