package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
		newBuildCommand(cli),
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
	// Shell completion offers the stored images' names where a command takes images.
	complete := completeImages(cli)
	for _, c := range append(cmd.Commands(), root.Commands()...) {
		switch c.Name() {
		case "rm", "rmi", "inspect", "history", "save", "push":
			if c.Parent() == cmd || c.Name() != "rm" && c.Name() != "inspect" {
				c.ValidArgsFunction = complete
			}
		case "tag":
			c.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return complete(c, args, toComplete)
			}
		}
	}
}

// completeImages completes image references (repo:tag) from the store of --root.
func completeImages(cli *CLI) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		store, err := openImages(cli)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		imgs, err := store.List()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, img := range imgs {
			for _, t := range img.RepoTags {
				if strings.HasPrefix(t, toComplete) {
					out = append(out, t)
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// openImages opens the image store of the CLI's --root, recording its events in --runroot.
func openImages(cli *CLI) (*image.Store, error) {
	s, err := image.Open(cli.Root)
	if err != nil {
		return nil, err
	}
	s.EventsRunRoot = cli.RunRoot
	return s, nil
}

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
