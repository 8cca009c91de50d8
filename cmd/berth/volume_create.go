package main

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/volume"
	"github.com/spf13/cobra"
)

// newVolumeCreateCommand is `berth volume create [OPTIONS] [VOLUME]`.
func newVolumeCreateCommand(cli *CLI) *cobra.Command {
	var (
		driver string
		labels []string
		opts   []string
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  requiresMaxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			store, err := openVolumes(cli)
			if err != nil {
				return err
			}
			v, _, err := store.Create(volume.CreateOptions{
				Name:    name,
				Driver:  driver,
				Labels:  kvList(labels),
				Options: kvList(opts),
			})
			if err != nil {
				return volumeCmdError(cli, err)
			}
			fmt.Fprintln(cli.Out, v.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", volume.DefaultDriver, "Specify volume driver name")
	f.StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

// kvList turns ["k=v", "k2"] into {"k": "v", "k2": ""} (an empty, non-nil map for none).
func kvList(list []string) map[string]string {
	m := make(map[string]string, len(list))
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
