package main

import (
	nettypes "github.com/docker/docker/api/types/network"
	"github.com/spf13/cobra"
)

// newNetworkInspectCommand is `berth network inspect [-f FORMAT] NETWORK...`.
func newNetworkInspectCommand(cli *CLI) *cobra.Command {
	var (
		tmpl    string
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  requiresMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := openNetworks(cli)
			if err != nil {
				return err
			}
			s.ReapStale()
			found := []nettypes.Inspect{}
			var errs []error
			for _, name := range args {
				n, err := s.Get(name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if n.IsDefaultBridge() && n.Subnet == "" {
					// Docker's docker0 exists from the daemon's start: show a subnet at once.
					if n, err = s.EnsureDefaultBridge(); err != nil {
						return err
					}
				}
				found = append(found, n.Inspect())
			}
			return writeInspected(cli, tmpl, found, errs)
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}
