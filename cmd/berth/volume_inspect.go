package main

import (
	apivolume "github.com/docker/docker/api/types/volume"
	"github.com/spf13/cobra"
)

// newVolumeInspectCommand is `berth volume inspect [-f FORMAT] VOLUME...`.
func newVolumeInspectCommand(cli *CLI) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  requiresMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openVolumes(cli)
			if err != nil {
				return err
			}
			found := []apivolume.Volume{}
			var errs []error
			for _, name := range args {
				v, err := store.Get(name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				found = append(found, v.API())
			}
			return writeInspected(cli, tmpl, found, errs)
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}
