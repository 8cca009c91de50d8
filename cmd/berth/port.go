package main

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/berth-project/berth/runtime"
	"github.com/docker/go-connections/nat"
	"github.com/spf13/cobra"
)

// openRuntimeForNetwork opens the container runtime of the CLI's --root and --runroot.
func openRuntimeForNetwork(cli *CLI) (*runtime.Runtime, error) {
	return runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
}

// newPortCommand is `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`.
func newPortCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := openRuntimeForNetwork(cli)
			if err != nil {
				return err
			}
			ctr, err := r.Get(args[0])
			if err != nil {
				return networkCmdError(cli, err)
			}
			ports := map[string][]runtime.PortBinding{}
			if ctr.State.Status == runtime.StatusRunning || ctr.State.Status == runtime.StatusPaused {
				ports = ctr.State.Ports
			}
			if len(args) == 2 {
				proto, port := nat.SplitProtoPort(args[1])
				if proto == "" {
					proto = "tcp"
				}
				key := port + "/" + proto
				if _, _, err := nat.ParsePortRange(port); err != nil || strings.Contains(port, "-") {
					fmt.Fprintf(cli.Err, "Error: No public port '%s' published for %s\n", key, args[0])
					return &StatusError{Code: 1}
				}
				bs := ports[key]
				if len(bs) == 0 {
					fmt.Fprintf(cli.Err, "Error: No public port '%s' published for %s\n", key, args[0])
					return &StatusError{Code: 1}
				}
				for _, b := range bs {
					fmt.Fprintln(cli.Out, net.JoinHostPort(b.HostIP, b.HostPort))
				}
				return nil
			}
			var keys []string
			for k := range ports {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				a, b := nat.Port(keys[i]), nat.Port(keys[j])
				if a.Int() != b.Int() {
					return a.Int() < b.Int()
				}
				return a.Proto() < b.Proto()
			})
			for _, k := range keys {
				for _, b := range ports[k] {
					fmt.Fprintf(cli.Out, "%s -> %s\n", k, net.JoinHostPort(b.HostIP, b.HostPort))
				}
			}
			return nil
		},
	}
}
