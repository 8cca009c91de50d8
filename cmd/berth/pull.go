package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-project/berth/image"
	"github.com/spf13/cobra"
)

func newPullCommand(cli *CLI) *cobra.Command {
	var opts struct {
		platform string
		quiet    bool
	}
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ref := args[0]
			if _, err := image.Normalize(ref); err != nil {
				return imageError(cli, err)
			}
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			if !opts.quiet && !image.HasTagOrDigest(ref) {
				// Docker's client prints this, not the daemon: `run` pulls without it.
				fmt.Fprintln(cli.Out, "Using default tag: latest")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, err = store.Pull(ctx, ref, image.PullOptions{
				Platform: opts.platform,
				Out:      cli.Out,
				Quiet:    opts.quiet,
				Terminal: isTerminal(cli.Out),
			})
			if err != nil {
				return imageError(cli, err)
			}
			full, _ := image.Normalize(ref)
			fmt.Fprintln(cli.Out, full)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.platform, "platform", "", `Set platform if server is multi-platform capable (e.g. "linux/arm64")`)
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}
