package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/runtime"
)

// newContainerPruneCommand is `container prune [-f] [--filter until=|label=]`.
func newContainerPruneCommand(cli *CLI) *cobra.Command {
	var force bool
	var filterArgs filterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := runtime.ParseFilters(filterArgs)
			if err != nil {
				return withCode(err, 125)
			}
			if !force {
				fmt.Fprint(cli.Out, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
				answer, _ := bufio.NewReader(cli.In).ReadString('\n')
				if !strings.EqualFold(strings.TrimSpace(answer), "y") {
					return errors.New("container prune has been cancelled")
				}
			}
			rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
			if err != nil {
				return err
			}
			rep, err := rt.Prune(f, time.Now())
			if len(rep.ContainersDeleted) > 0 {
				var b strings.Builder
				b.WriteString("Deleted Containers:\n")
				for _, id := range rep.ContainersDeleted {
					b.WriteString(id + "\n")
				}
				fmt.Fprintln(cli.Out, b.String())
			}
			if err != nil {
				return observeError(cli, err)
			}
			fmt.Fprintln(cli.Out, "Total reclaimed space:", units.HumanSize(float64(rep.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&filterArgs, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}
