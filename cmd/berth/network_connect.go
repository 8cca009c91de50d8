package main

import (
	"github.com/berth-project/berth/network"
	nettypes "github.com/docker/docker/api/types/network"
	"github.com/spf13/cobra"
)

// newNetworkConnectCommand is `berth network connect [OPTIONS] NETWORK CONTAINER`.
func newNetworkConnectCommand(cli *CLI) *cobra.Command {
	var (
		ip, ip6, mac   string
		aliases, links []string
		linkLocal      []string
		driverOpts     []string
		gwPriority     int
	)
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			ep := &nettypes.EndpointSettings{Aliases: aliases, Links: links, MacAddress: mac, DriverOpts: kvMap(driverOpts), GwPriority: gwPriority}
			if ip != "" {
				if err := network.ValidateIPv4(ip); err != nil {
					return networkCmdError(cli, err)
				}
				ep.IPAMConfig = &nettypes.EndpointIPAMConfig{IPv4Address: ip, IPv6Address: ip6, LinkLocalIPs: linkLocal}
			}
			if mac != "" {
				if err := network.ValidateMAC(mac); err != nil {
					return networkCmdError(cli, err)
				}
			}
			r, err := openRuntimeForNetwork(cli)
			if err != nil {
				return err
			}
			return networkCmdError(cli, r.ConnectNetwork(args[1], args[0], ep))
		},
	}
	f := cmd.Flags()
	f.StringVar(&ip, "ip", "", "IPv4 address (e.g., \"172.30.100.104\")")
	f.StringVar(&ip6, "ip6", "", "IPv6 address (e.g., \"2001:db8::33\")")
	f.StringVar(&mac, "mac-address", "", "MAC address of the container on this network")
	f.StringArrayVar(&aliases, "alias", nil, "Add network-scoped alias for the container")
	f.StringArrayVar(&links, "link", nil, "Add link to another container")
	f.StringArrayVar(&linkLocal, "link-local-ip", nil, "Add a link-local address for the container")
	f.StringArrayVar(&driverOpts, "driver-opt", nil, "driver options for the network")
	f.IntVar(&gwPriority, "gw-priority", 0, "Highest gw-priority provides the default gateway")
	return cmd
}
