// Package network wires containers to Docker-style networks: bridges, veth pairs, IPAM, published
// ports through nftables, /etc/hosts and resolv.conf rendering, and named networks.
package network
