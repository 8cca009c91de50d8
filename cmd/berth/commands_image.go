package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// addImageCommands registers the image commands (top-level aliases included) on root.
func addImageCommands(root *cobra.Command, cli *CLI) {
	cmd := &cobra.Command{
		Use:   "image COMMAND",
		Short: "Manage images",
		Args:  noArgs,
		RunE:  func(c *cobra.Command, args []string) error { return c.Help() },
	}
	cmd.AddCommand(
		newImageLsCommand(cli, "ls"),
		newPullCommand(cli),
		newPushCommand(cli),
		newRmiCommand(cli, "rm"),
		newTagCommand(cli),
		newImageInspectCommand(cli),
		newHistoryCommand(cli),
		newSaveCommand(cli),
		newLoadCommand(cli),
		newImportCommand(cli),
		newImagePruneCommand(cli),
	)
	root.AddCommand(cmd,
		newImageLsCommand(cli, "images"),
		newPullCommand(cli),
		newPushCommand(cli),
		newRmiCommand(cli, "rmi"),
		newTagCommand(cli),
		newHistoryCommand(cli),
		newSaveCommand(cli),
		newLoadCommand(cli),
		newImportCommand(cli),
	)
}

// openImages opens the image store of the CLI's --root.
func openImages(cli *CLI) (*image.Store, error) { return image.Open(cli.Root) }

// errImageReported makes berth exit 1 after the error has been printed.
var errImageReported = &StatusError{Code: 1}

// imageError prints err the way Docker's CLI prints it and returns the error that makes berth
// exit 1: a malformed reference is the client's own message ("invalid reference format"),
// anything else comes "from the daemon".
func imageError(cli *CLI, err error) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	msg := err.Error()
	var te *format.TemplateError
	if errors.As(err, &te) {
		// docker/cli renders --format itself: no "from the daemon" prefix.
		fmt.Fprintln(cli.Err, te.Error())
		return errImageReported
	}
	if errors.Is(err, errdefs.ErrInvalid) && len(msg) >= len("invalid reference format") && msg[:len("invalid reference format")] == "invalid reference format" {
		fmt.Fprintln(cli.Err, msg)
		return errImageReported
	}
	fmt.Fprintln(cli.Err, "Error response from daemon: "+msg)
	return errImageReported
}

// reportStatus prints msg on stderr as docker/cli prints its own errors (no prefix) and returns
// the error that makes berth exit with code.
func reportStatus(cli *CLI, code int, msg string) error {
	fmt.Fprintln(cli.Err, msg)
	return &StatusError{Code: code}
}

// isTerminal tells whether w is a terminal (live progress bars instead of plain lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
