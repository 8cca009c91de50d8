package main

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/network"
	"github.com/spf13/cobra"
)

// kvMap turns KEY=VALUE flags into a map (a bare KEY gets an empty value, as Docker does).
func kvMap(list []string) map[string]string {
	if len(list) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// newNetworkCreateCommand is `berth network create [OPTIONS] NETWORK`.
func newNetworkCreateCommand(cli *CLI) *cobra.Command {
	var (
		o                      network.CreateOptions
		subnets, gws, ranges   []string
		labels, opts, ipamOpts []string
		attachable, ipv6, ipv4 bool
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Name = args[0]
			if len(subnets) > 1 || len(gws) > 1 || len(ranges) > 1 {
				return networkCmdError(cli, errdefs.Invalid("berth networks have one IPv4 subnet: give --subnet, --gateway and --ip-range at most once"))
			}
			if len(gws) > 0 && len(subnets) == 0 {
				return &StatusError{Code: 1, Msg: "every ip-range or gateway must have a corresponding subnet"}
			}
			if len(ranges) > 0 && len(subnets) == 0 {
				return &StatusError{Code: 1, Msg: "every ip-range or gateway must have a corresponding subnet"}
			}
			if ipv6 {
				return networkCmdError(cli, errdefs.Invalid("IPv6 networks are not supported by berth"))
			}
			if len(subnets) == 1 {
				o.Subnet = subnets[0]
			}
			if len(gws) == 1 {
				o.Gateway = gws[0]
			}
			if len(ranges) == 1 {
				o.IPRange = ranges[0]
			}
			o.Labels, o.Options = kvMap(labels), kvMap(opts)
			s, err := openNetworks(cli)
			if err != nil {
				return err
			}
			n, err := s.Create(o)
			if err != nil {
				return networkCmdError(cli, err)
			}
			fmt.Fprintln(cli.Out, n.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Driver, "driver", "d", "bridge", "Driver to manage the Network")
	f.StringArrayVar(&subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	f.StringArrayVar(&gws, "gateway", nil, "IPv4 Gateway for the master subnet")
	f.StringArrayVar(&ranges, "ip-range", nil, "Allocate container ip from a sub-range")
	f.BoolVar(&o.Internal, "internal", false, "Restrict external access to the network")
	f.StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	f.StringArrayVar(&ipamOpts, "ipam-opt", nil, "Set IPAM driver specific options")
	f.BoolVar(&attachable, "attachable", false, "Enable manual container attachment")
	f.BoolVar(&ipv6, "ipv6", false, "Enable or disable IPv6 networking")
	f.BoolVar(&ipv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	return cmd
}
