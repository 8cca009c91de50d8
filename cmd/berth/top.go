package main

import (
	"bufio"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/runtime"
)

// newTopCommand is `top CONTAINER [ps OPTIONS]`.
func newTopCommand(cli *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
			if err != nil {
				return err
			}
			c, err := rt.Get(args[0])
			if err != nil {
				return observeError(cli, err)
			}
			res, err := rt.Top(c, strings.Join(args[1:], " "))
			if err != nil {
				return observeError(cli, err)
			}
			// docker/cli's top table: min width 20, padding 3.
			out := bufio.NewWriter(cli.Out)
			defer out.Flush()
			w := tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(res.Titles, "\t"))
			for _, p := range res.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		},
	}
	// Everything after the container belongs to ps.
	cmd.Flags().SetInterspersed(false)
	return cmd
}
