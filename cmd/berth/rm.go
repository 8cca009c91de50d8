package main

import (
	"github.com/berth-project/berth/runtime"
	"github.com/spf13/cobra"
)

type rmOptions struct {
	force, volumes, link bool
}

func newRmCommand(cli *CLI, use string, aliases ...string) *cobra.Command {
	o := &rmOptions{}
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: aliases,
		Short:   "Remove one or more containers",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := openContainers(cli)
			if err != nil {
				return err
			}
			return forEachArg(cli, args, func(name string) error {
				c, err := rt.Get(name)
				if err != nil {
					return err
				}
				return rt.Remove(c.ID, runtime.RemoveOptions{Force: o.force, Volumes: o.volumes})
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	f.BoolVarP(&o.volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	f.BoolVarP(&o.link, "link", "l", false, "Remove the specified link")
	return cmd
}
