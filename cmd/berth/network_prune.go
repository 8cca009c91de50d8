package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/berth-project/berth/network"
	"github.com/spf13/cobra"
)

// newNetworkPruneCommand is `berth network prune [-f] [--filter label=...]`. It also removes
// bridges that berth made for stores (--root folders) that no longer exist.
func newNetworkPruneCommand(cli *CLI) *cobra.Command {
	var (
		force   bool
		filters []string
	)
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			f, err := parseNetworkFilters(filters, "label", "label!", "until")
			if err != nil {
				return networkCmdError(cli, err)
			}
			if !force {
				fmt.Fprint(cli.Out, "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ")
				answer, _ := bufio.NewReader(cli.In).ReadString('\n')
				answer = strings.ToLower(strings.TrimSpace(answer))
				if answer != "y" && answer != "yes" {
					return nil
				}
			}
			s, err := openNetworks(cli)
			if err != nil {
				return err
			}
			removed, err := s.Prune(func(n *network.Network) bool {
				return matchLabels(n.Labels, f["label"], false) && matchLabels(n.Labels, f["label!"], true)
			})
			if len(removed) > 0 {
				fmt.Fprintln(cli.Out, "Deleted Networks:")
				for _, name := range removed {
					fmt.Fprintln(cli.Out, name)
				}
			}
			return networkCmdError(cli, err)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (e.g. \"until=<timestamp>\")")
	return cmd
}
