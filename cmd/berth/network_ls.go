package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/network"
	"github.com/spf13/cobra"
)

// networkRow is one `network ls` line; its methods are the --format fields docker/cli offers.
type networkRow struct {
	n       *network.Network
	noTrunc bool
}

func (r networkRow) ID() string {
	if r.noTrunc {
		return r.n.ID
	}
	return ids.Truncate(r.n.ID)
}
func (r networkRow) Name() string     { return r.n.Name }
func (r networkRow) Driver() string   { return r.n.Driver }
func (r networkRow) Scope() string    { return "local" }
func (r networkRow) IPv4() string     { return fmt.Sprint(r.n.Driver == network.DriverBridge) }
func (r networkRow) IPv6() string     { return "false" }
func (r networkRow) Internal() string { return fmt.Sprint(r.n.Internal) }
func (r networkRow) CreatedAt() string {
	return r.n.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")
}

// Labels is "k=v,k2=v2", sorted.
func (r networkRow) Labels() string { return joinLabels(r.n.Labels) }

// Label returns the value of one label.
func (r networkRow) Label(name string) string { return r.n.Labels[name] }

// MarshalJSON is the `--format json` form, as docker/cli prints it.
func (r networkRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"CreatedAt": r.CreatedAt(), "Driver": r.Driver(), "ID": r.ID(), "IPv4": r.IPv4(), "IPv6": r.IPv6(),
		"Internal": r.Internal(), "Labels": r.Labels(), "Name": r.Name(), "Scope": r.Scope(),
	})
}

var networkTable = format.Table{
	Default: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
	Headers: map[string]string{
		"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
		"IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
	},
}

// networkFilter is a parsed --filter list of network ls / prune.
type networkFilter map[string][]string

func parseNetworkFilters(list []string, allowed ...string) (networkFilter, error) {
	f := networkFilter{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, errdefs.Invalid("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(k)
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid filter '%s'", k))
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

func anyOf(vals []string, match func(string) bool) bool {
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		if match(v) {
			return true
		}
	}
	return false
}

// matchLabels implements label=KEY and label=KEY=VALUE (all must match), and label!=.
func matchLabels(labels map[string]string, want []string, negate bool) bool {
	for _, w := range want {
		k, v, hasV := strings.Cut(w, "=")
		got, ok := labels[k]
		m := ok && (!hasV || got == v)
		if m == negate {
			return false
		}
	}
	return true
}

func (f networkFilter) match(n *network.Network) bool {
	builtin := n.Predefined()
	return anyOf(f["driver"], func(v string) bool { return v == n.Driver }) &&
		anyOf(f["id"], func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
		anyOf(f["name"], func(v string) bool { return strings.Contains(n.Name, v) }) &&
		anyOf(f["scope"], func(v string) bool { return v == "local" }) &&
		anyOf(f["type"], func(v string) bool { return (v == "builtin") == builtin && (v == "builtin" || v == "custom") }) &&
		anyOf(f["dangling"], func(v string) bool {
			d := !builtin && len(n.Leases) == 0
			return (v == "true" || v == "1") == d
		}) &&
		matchLabels(n.Labels, f["label"], false) && matchLabels(n.Labels, f["label!"], true)
}

// newNetworkLsCommand is `berth network ls`.
func newNetworkLsCommand(cli *CLI) *cobra.Command {
	var (
		quiet, noTrunc bool
		filters        []string
		tmpl           string
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			f, err := parseNetworkFilters(filters, "driver", "id", "label", "label!", "name", "scope", "type", "dangling")
			if err != nil {
				return networkCmdError(cli, err)
			}
			s, err := openNetworks(cli)
			if err != nil {
				return err
			}
			s.ReapStale()
			all, err := s.List()
			if err != nil {
				return err
			}
			sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
			var rows []any
			for _, n := range all {
				if f.match(n) {
					rows = append(rows, networkRow{n: n, noTrunc: noTrunc})
				}
			}
			if quiet {
				tmpl = "{{.ID}}"
			}
			return networkTable.Write(cli.Out, tmpl, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"driver=bridge\")")
	fl.StringVar(&tmpl, "format", "", "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')")
	return cmd
}
