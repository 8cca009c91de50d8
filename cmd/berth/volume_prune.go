package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/volume"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// newVolumePruneCommand is `berth volume prune [-a] [-f] [--filter label=...]`: without --all only
// anonymous volumes no container uses are removed (Docker 23+).
func newVolumePruneCommand(cli *CLI) *cobra.Command {
	var (
		all     bool
		force   bool
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts := volume.PruneOptions{All: all}
			for _, kv := range filters {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return volumeCmdError(cli, errdefs.Invalid("bad format of filter (expected name=value)"))
				}
				switch strings.ToLower(k) {
				case "label":
					opts.Labels = append(opts.Labels, v)
				case "label!":
					opts.NotLabels = append(opts.NotLabels, v)
				case "all":
					b, err := strconv.ParseBool(v)
					if err != nil {
						return volumeCmdError(cli, errdefs.Invalid(fmt.Sprintf("invalid filter 'all=%s': invalid value", v)))
					}
					opts.All = opts.All || b
				default:
					return volumeCmdError(cli, errdefs.Invalid(fmt.Sprintf("invalid filter '%s'", k)))
				}
			}
			if !force {
				warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
				if opts.All {
					warning = "WARNING! This will remove all local volumes not used by at least one container."
				}
				fmt.Fprintf(cli.Out, "%s\nAre you sure you want to continue? [y/N] ", warning)
				answer, _ := bufio.NewReader(cli.In).ReadString('\n')
				answer = strings.ToLower(strings.TrimSpace(answer))
				if answer != "y" && answer != "yes" {
					return nil
				}
			}
			store, err := openVolumes(cli)
			if err != nil {
				return err
			}
			deleted, reclaimed, err := store.Prune(opts)
			if len(deleted) > 0 {
				fmt.Fprintln(cli.Out, "Deleted Volumes:")
				for _, name := range deleted {
					fmt.Fprintln(cli.Out, name)
				}
				fmt.Fprintln(cli.Out)
			}
			fmt.Fprintln(cli.Out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			return volumeCmdError(cli, err)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	f.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	f.StringArrayVar(&filters, "filter", nil, "Provide filter values (e.g. \"label=<label>\")")
	return cmd
}
