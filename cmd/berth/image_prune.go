package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/format"
	"github.com/spf13/cobra"
)

func newImagePruneCommand(cli *CLI) *cobra.Command {
	var opts struct {
		all, force bool
		filters    []string
	}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			f, err := image.ParseFilters(opts.filters, "until", "label", "label!")
			if err != nil {
				return imageError(cli, err)
			}
			if !opts.force {
				warning := "WARNING! This will remove all dangling images."
				if opts.all {
					warning = "WARNING! This will remove all images without at least one container associated to them."
				}
				fmt.Fprintf(cli.Out, "%s\nAre you sure you want to continue? [y/N] ", warning)
				answer, _ := bufio.NewReader(cli.In).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return &StatusError{Code: 1, Msg: ""}
				}
			}
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			res, reclaimed, err := store.Prune(image.PruneOptions{All: opts.all, Filters: f, UsedBy: imageUsers(cli)})
			if len(res) > 0 {
				fmt.Fprintln(cli.Out, "Deleted Images:")
				for _, r := range res {
					if r.Untagged != "" {
						fmt.Fprintln(cli.Out, "untagged: "+r.Untagged)
					}
					if r.Deleted != "" {
						fmt.Fprintln(cli.Out, "deleted: "+r.Deleted)
					}
				}
				fmt.Fprintln(cli.Out)
			}
			if err != nil {
				return imageError(cli, err)
			}
			fmt.Fprintln(cli.Out, "Total reclaimed space: "+format.Size(reclaimed))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.all, "all", "a", false, "Remove all unused images, not just dangling ones")
	fl.BoolVarP(&opts.force, "force", "f", false, "Do not prompt for confirmation")
	fl.Var((*filterFlag)(&opts.filters), "filter", `Provide filter values (e.g. "until=<timestamp>", "label=key=value")`)
	return cmd
}
