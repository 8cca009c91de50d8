package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/runtime"
)

// addCommitCommands registers commit, diff and export (top level and under "container").
func addCommitCommands(root, container *cobra.Command, cli *CLI) {
	root.AddCommand(newCommitCommand(cli), newDiffCommand(cli), newExportCommand(cli))
	container.AddCommand(newCommitCommand(cli), newDiffCommand(cli), newExportCommand(cli))
}

// newCommitCommand is `commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`.
func newCommitCommand(cli *CLI) *cobra.Command {
	var opts runtime.CommitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 2 {
				opts.Ref = args[1]
			}
			rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
			if err != nil {
				return imageError(cli, err)
			}
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			img, err := rt.Commit(ctx, store, args[0], opts)
			if err != nil {
				return imageError(cli, err)
			}
			fmt.Fprintln(cli.Out, img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVarP(&opts.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringArrayVarP(&opts.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&opts.Message, "message", "m", "", "Commit message")
	f.BoolVarP(&opts.Pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

// newDiffCommand is `diff CONTAINER`.
func newDiffCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
			if err != nil {
				return observeError(cli, err)
			}
			ct, err := rt.Get(args[0])
			if err != nil {
				return observeError(cli, err)
			}
			changes, err := rt.Changes(ct)
			if err != nil {
				return observeError(cli, err)
			}
			out := bufio.NewWriter(cli.Out)
			for _, ch := range changes {
				fmt.Fprintf(out, "%s %s\n", ch.Kind, ch.Path)
			}
			return out.Flush()
		},
	}
}

// newExportCommand is `export [OPTIONS] CONTAINER`.
func newExportCommand(cli *CLI) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if output == "" && isTerminal(cli.Out) {
				return reportStatus(cli, 1, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			if output != "" {
				if err := validateOutputPath(output); err != nil {
					return reportStatus(cli, 1, "failed to export container: "+err.Error())
				}
			}
			rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
			if err != nil {
				return observeError(cli, err)
			}
			ct, err := rt.Get(args[0])
			if err != nil {
				return observeError(cli, err)
			}
			if output == "" {
				bw := bufio.NewWriterSize(cli.Out, 1<<20)
				if err := rt.Export(ct, bw); err != nil {
					return observeError(cli, err)
				}
				return observeError(cli, bw.Flush())
			}
			// Write next to the target and rename, so a failed export leaves no partial archive.
			tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp*")
			if err != nil {
				return reportStatus(cli, 1, "failed to export container: "+err.Error())
			}
			err = saveTo(tmp, func(w io.Writer) error { return rt.Export(ct, w) })
			if err == nil {
				err = os.Rename(tmp.Name(), output)
			}
			if err != nil {
				os.Remove(tmp.Name())
				return observeError(cli, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
