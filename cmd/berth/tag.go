package main

import (
	"fmt"

	"github.com/berth-project/berth/image"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
)

func newTagCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			// docker/cli checks both references itself before asking the daemon.
			for i, ref := range args {
				r, err := image.ParseReference(ref)
				if err != nil {
					return reportStatus(cli, 1, fmt.Sprintf("Error parsing reference: %q is not a valid repository/tag: %v", ref, err))
				}
				if _, digest := r.(name.Digest); digest && i == 1 {
					return reportStatus(cli, 1, "refusing to create a tag with a digest reference")
				}
			}
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			return imageError(cli, store.Tag(args[0], args[1]))
		},
	}
}
