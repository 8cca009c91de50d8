package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/runtime"
	"github.com/spf13/cobra"
)

func newRmiCommand(cli *CLI, use string) *cobra.Command {
	var opts struct{ force, noPrune bool }
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  requiresMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			failed := false
			for _, ref := range args {
				res, err := store.Remove(ref, image.RemoveOptions{Force: opts.force, NoPrune: opts.noPrune, UsedBy: imageUsers(cli)})
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
	cmd.Flags().BoolVar(&opts.noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

// imageUsers lists, for rmi and prune, the containers created from an image (by config digest).
// Containers whose monitor died are reconciled first, through the runtime, before the image
// store takes the index lock (reconciling may remove a --rm container, which takes that lock
// too); the returned function, which the store calls under the index lock, then only reads
// each container's config.json and state.json.
func imageUsers(cli *CLI) image.UsedByFunc {
	l := runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot}
	if rt, err := runtime.Open(l); err == nil {
		_, _ = rt.List()
	}
	return func(id string) ([]image.ContainerUse, error) {
		ents, err := os.ReadDir(filepath.Join(l.Root, "containers"))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var out []image.ContainerUse
		for _, e := range ents {
			var rec runtime.Record
			if err := atomicfile.ReadJSON(l.ConfigPath(e.Name()), &rec); err != nil || rec.ImageID != id {
				continue
			}
			var st runtime.State
			_ = atomicfile.ReadJSON(l.StatePath(e.Name()), &st)
			c := runtime.Container{Record: rec, State: st}
			out = append(out, image.ContainerUse{ID: rec.ID, Running: c.IsRunning()})
		}
		return out, nil
	}
}
