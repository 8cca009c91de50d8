package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func newLoadCommand(cli *CLI) *cobra.Command {
	var opts struct {
		input string
		quiet bool
	}
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			var in io.Reader = cli.In
			if opts.input != "" {
				f, err := os.Open(opts.input)
				if err != nil {
					// docker/cli opens the file itself.
					return reportStatus(cli, 1, err.Error())
				}
				defer f.Close()
				in = f
			} else if f, ok := cli.In.(*os.File); ok && isTerminal(f) {
				fmt.Fprintln(cli.Err, "requested load from stdin, but stdin is empty")
				return errImageReported
			}
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := store.Load(ctx, in)
			if err != nil {
				return imageError(cli, err)
			}
			for _, m := range res.Moved {
				fmt.Fprintf(cli.Out, "The image %s already exists, renaming the old one with ID %s to empty string\n", m.Tag, m.OldID)
			}
			for _, t := range res.Tags {
				fmt.Fprintln(cli.Out, "Loaded image: "+t)
			}
			for _, id := range res.IDs {
				fmt.Fprintln(cli.Out, "Loaded image ID: "+id)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}
