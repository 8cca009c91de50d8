package main

import "github.com/spf13/cobra"

func newTagCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			return imageError(cli, store.Tag(args[0], args[1]))
		},
	}
}
