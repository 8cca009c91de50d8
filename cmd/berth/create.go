package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/runtime"
	"github.com/spf13/cobra"
)

func newCreateCommand(cli *CLI) *cobra.Command {
	o := &containerOptions{}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := createContainer(cmd.Context(), cli, cmd, o, args, "")
			if err != nil {
				return withCode(err, 125)
			}
			fmt.Fprintln(cli.Out, c.ID)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.SetInterspersed(false)
	addContainerFlags(flags, o)
	return cmd
}

// openContainers opens the container runtime of the CLI's --root and --runroot.
func openContainers(cli *CLI) (*runtime.Runtime, error) {
	return runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
}

// createContainer is create's work, shared with run: parse the flags, find (or pull) the image,
// create the record and write --cidfile.
func createContainer(ctx context.Context, cli *CLI, cmd *cobra.Command, o *containerOptions, args []string, id string) (*runtime.Container, error) {
	ref := args[0]
	cc, err := o.parse(cmd.Flags(), ref, args[1:])
	if err != nil {
		return nil, err
	}
	for _, w := range cc.Warnings {
		fmt.Fprintln(cli.Err, "WARNING: "+w)
	}
	if o.cidfile != "" {
		if _, err := os.Stat(o.cidfile); err == nil {
			return nil, fmt.Errorf("Container ID file found, make sure the other container isn't running or delete %s", o.cidfile)
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	img, lowers, err := resolveRunImage(ctx, cli, ref, o.pull, o.platform)
	if err != nil {
		return nil, err
	}
	rt, err := openContainers(cli)
	if err != nil {
		return nil, err
	}
	var imgCfg = &img.Config.Config
	if img.Config == nil {
		imgCfg = nil
	}
	c, err := rt.Create(runtime.CreateOptions{
		ID:          id,
		Name:        o.name,
		Image:       ref,
		ImageID:     img.ID,
		ImageConfig: imgCfg,
		LowerDirs:   lowers,
		Config:      cc.Config,
		HostConfig:  cc.HostConfig,
		Networking:  cc.Networking,
	})
	if err != nil {
		return nil, err
	}
	if o.cidfile != "" {
		if err := writeCidfile(o.cidfile, c.ID); err != nil {
			rt.Remove(c.ID, runtime.RemoveOptions{Force: true, Volumes: true})
			return nil, err
		}
	}
	return c, nil
}

func writeCidfile(path, id string) error {
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("failed to create the container ID file: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("failed to create the container ID file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(id); err != nil {
		return fmt.Errorf("failed to write the container ID to the file: %w", err)
	}
	return nil
}

// resolveRunImage finds ref in the image store, pulling it per --pull (missing: only when absent,
// printing Docker's "Unable to find image" line and the pull progress to stderr).
func resolveRunImage(ctx context.Context, cli *CLI, ref, pull, platform string) (*image.Image, []string, error) {
	store, err := openImages(cli)
	if err != nil {
		return nil, nil, err
	}
	var img *image.Image
	if pull != "always" {
		img, err = store.Resolve(ref)
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return nil, nil, err
		}
	}
	if img == nil {
		if pull == "never" {
			return nil, nil, err
		}
		if pull == "missing" {
			name := ref
			if n, nerr := image.Normalize(ref); nerr == nil {
				name = image.FamiliarName(n)
			}
			fmt.Fprintf(cli.Err, "Unable to find image '%s' locally\n", name)
		}
		img, err = store.Pull(ctx, ref, image.PullOptions{Platform: platform, Out: cli.Err})
		if err != nil {
			return nil, nil, err
		}
	}
	lowers, err := store.LowerDirs(img)
	if err != nil {
		return nil, nil, err
	}
	return img, lowers, nil
}
