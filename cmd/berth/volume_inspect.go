package main

import (
	"encoding/json"
	"fmt"

	"github.com/berth-project/berth/internal/format"
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
			if tmpl == "" {
				data, err := json.MarshalIndent(found, "", "    ")
				if err != nil {
					return err
				}
				fmt.Fprintln(cli.Out, string(data))
			} else {
				for _, v := range found {
					if err := format.Template(cli.Out, tmpl, v); err != nil {
						return &StatusError{Code: 1, Msg: err.Error()}
					}
				}
			}
			for _, err := range errs {
				printDaemonError(cli, err)
			}
			if len(errs) > 0 {
				return errDaemonReported
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}
