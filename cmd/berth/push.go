package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-project/berth/image"
	"github.com/spf13/cobra"
)

func newPushCommand(cli *CLI) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if _, err := image.Normalize(args[0]); err != nil {
				return imageError(cli, err)
			}
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if _, err := store.Push(ctx, args[0], image.PushOptions{Out: cli.Out, Quiet: quiet}); err != nil {
				if pe := (*image.PushError)(nil); errors.As(err, &pe) {
					return reportStatus(cli, 1, pe.Msg) // the push stream's last line, as docker prints it
				}
				return imageError(cli, err)
			}
			if quiet {
				full, _ := image.Normalize(args[0])
				cli.Out.Write([]byte(full + "\n"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}
