package main

import (
	"fmt"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/runtime"
	"github.com/spf13/cobra"
)

func newRmiCommand(cli *CLI, use string) *cobra.Command {
	var opts struct{ force, noPrune bool }
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			failed := false
			for _, ref := range args {
				res, err := store.Remove(ref, image.RemoveOptions{Force: opts.force, UsedBy: imageUsers(cli)})
				for _, r := range res {
					if r.Untagged != "" {
						fmt.Fprintln(cli.Out, "Untagged: "+r.Untagged)
					}
					if r.Deleted != "" {
						fmt.Fprintln(cli.Out, "Deleted: "+r.Deleted)
					}
				}
				if err != nil {
					imageError(cli, err)
					failed = true
				}
			}
			if failed {
				return errImageReported
			}
			return nil
		},
	}
	if use == "rm" {
		cmd.Aliases = []string{"remove"}
	}
	cmd.Flags().BoolVarP(&opts.force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&opts.noPrune, "no-prune", false, "Do not delete untagged parents (berth keeps no parent images)")
	return cmd
}

// imageUsers lists, for rmi and prune, the containers created from an image (by config digest)
// from the runtime's store. The image store calls it under the index lock.
func imageUsers(cli *CLI) image.UsedByFunc {
	var rt *runtime.Runtime
	return func(id string) ([]image.ContainerUse, error) {
		if rt == nil {
			r, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
			if err != nil {
				return nil, err
			}
			rt = r
		}
		list, err := rt.List()
		if err != nil {
			return nil, err
		}
		var out []image.ContainerUse
		for _, c := range list {
			if c.ImageID == id {
				out = append(out, image.ContainerUse{ID: c.ID, Running: c.IsRunning()})
			}
		}
		return out, nil
	}
}
