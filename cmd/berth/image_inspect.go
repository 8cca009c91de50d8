package main

import "github.com/spf13/cobra"

func newImageInspectCommand(cli *CLI) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			return runInspect(cli, args, format, func(ref string) (any, error) {
				img, err := store.Resolve(ref)
				if err != nil {
					return nil, err
				}
				return store.Inspect(img)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}
