package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/volume"
	"github.com/spf13/cobra"
)

// volumeRow is one `volume ls` line; its methods are the --format fields docker/cli offers.
type volumeRow struct{ v *volume.Volume }

func (r volumeRow) Name() string       { return r.v.Name }
func (r volumeRow) Driver() string     { return r.v.Driver }
func (r volumeRow) Scope() string      { return "local" }
func (r volumeRow) Mountpoint() string { return r.v.Mountpoint }
func (r volumeRow) Links() string      { return "N/A" }
func (r volumeRow) Size() string       { return "N/A" }
func (r volumeRow) Group() string      { return "N/A" }
func (r volumeRow) Availability() string {
	return "N/A"
}
func (r volumeRow) Status() string { return "N/A" }

// Labels is "k=v,k2=v2", sorted.
func (r volumeRow) Labels() string { return joinLabels(r.v.Labels) }

// Label returns the value of one label.
func (r volumeRow) Label(name string) string { return r.v.Labels[name] }

// MarshalJSON is the `--format json` form, as docker/cli prints it.
func (r volumeRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Availability": r.Availability(), "Driver": r.Driver(), "Group": r.Group(),
		"Labels": r.Labels(), "Links": r.Links(), "Mountpoint": r.Mountpoint(), "Name": r.Name(),
		"Scope": r.Scope(), "Size": r.Size(), "Status": r.Status(),
	})
}

var volumeTable = format.Table{
	Default: "table {{.Driver}}\t{{.Name}}",
	Headers: map[string]string{
		"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
		"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
		"Availability": "AVAILABILITY", "Status": "STATUS",
	},
}

// volumeFilter is a parsed `--filter` list for volume ls.
type volumeFilter struct {
	dangling *bool
	names    []string
	labels   []string
	drivers  []string
}

func parseVolumeFilters(list []string) (*volumeFilter, error) {
	f := &volumeFilter{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, errdefs.Invalid(fmt.Sprintf("bad format of filter (expected name=value)"))
		}
		switch strings.ToLower(k) {
		case "dangling":
			var b bool
			switch strings.ToLower(v) {
			case "true", "1":
				b = true
			case "false", "0":
				b = false
			default:
				return nil, errdefs.Invalid(fmt.Sprintf("invalid filter 'dangling=%s'", v))
			}
			f.dangling = &b
		case "name":
			f.names = append(f.names, v)
		case "label":
			f.labels = append(f.labels, v)
		case "driver":
			f.drivers = append(f.drivers, v)
		default:
			return nil, errdefs.Invalid(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	return f, nil
}

func (f *volumeFilter) match(v *volume.Volume, users map[string][]string) bool {
	if f.dangling != nil && (len(users[v.Name]) == 0) != *f.dangling {
		return false
	}
	if len(f.names) > 0 {
		ok := false
		for _, n := range f.names {
			ok = ok || strings.Contains(v.Name, n)
		}
		if !ok {
			return false
		}
	}
	if len(f.drivers) > 0 {
		ok := false
		for _, d := range f.drivers {
			ok = ok || d == v.Driver
		}
		if !ok {
			return false
		}
	}
	return volume.MatchLabels(v.Labels, f.labels)
}

// newVolumeLsCommand is `berth volume ls`.
func newVolumeLsCommand(cli *CLI) *cobra.Command {
	var (
		quiet   bool
		filters []string
		tmpl    string
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			f, err := parseVolumeFilters(filters)
			if err != nil {
				return volumeCmdError(cli, err)
			}
			store, err := openVolumes(cli)
			if err != nil {
				return err
			}
			vols, err := store.List()
			if err != nil {
				return err
			}
			var users map[string][]string
			if f.dangling != nil {
				if users, err = store.Users(); err != nil {
					return err
				}
			}
			var rows []any
			for _, v := range vols {
				if f.match(v, users) {
					rows = append(rows, volumeRow{v})
				}
			}
			if quiet {
				tmpl = "{{.Name}}"
			}
			return volumeTable.Write(cli.Out, tmpl, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"dangling=true\")")
	fl.StringVar(&tmpl, "format", "", "Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE')")
	return cmd
}
