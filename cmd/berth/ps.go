package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/runtime"
)

// psOptions are `docker ps` flags.
type psOptions struct {
	all     bool
	quiet   bool
	last    int
	latest  bool
	size    bool
	noTrunc bool
	filters filterFlag
	format  string
}

// filterFlag is a repeatable --filter key=value flag; a value without "=" is a flag error, as
// docker/cli's FilterOpt makes it.
type filterFlag []string

// String implements pflag.Value.
func (f *filterFlag) String() string { return strings.Join(*f, ",") }

// Set implements pflag.Value.
func (f *filterFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return errors.New("bad format of filter (expected name=value)")
	}
	*f = append(*f, v)
	return nil
}

// Type implements pflag.Value.
func (f *filterFlag) Type() string { return "filter" }

// newPsCommand is `ps` (and `container ls`, `container list`, `container ps`).
func newPsCommand(cli *CLI, use string, aliases ...string) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:     use + " [OPTIONS]",
		Aliases: aliases,
		Short:   "List containers",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPs(cli, &o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display container IDs")
	f.IntVarP(&o.last, "last", "n", -1, "Show n last created containers (includes all states)")
	f.BoolVarP(&o.latest, "latest", "l", false, "Show the latest created container (includes all states)")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Don't truncate output")
	f.VarP(&o.filters, "filter", "f", "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

func runPs(cli *CLI, o *psOptions) error {
	// A short-lived listing: a few MB of garbage are cheaper to keep than to collect.
	defer debug.SetGCPercent(debug.SetGCPercent(800))
	f, err := runtime.ParseFilters(o.filters)
	if err != nil {
		return withCode(err, 125)
	}
	rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
	if err != nil {
		return err
	}
	opts := runtime.PsOptions{All: o.all, Limit: o.last, Filters: f}
	if o.latest {
		opts.Limit = 1
	}
	var images *image.Store
	imageStore := func() *image.Store {
		if images == nil {
			images, _ = openImages(cli)
		}
		return images
	}
	if f.Contains("ancestor") {
		opts.ResolveImage = func(ref string) (string, error) {
			s := imageStore()
			if s == nil {
				return "", errors.New("no image store")
			}
			img, err := s.Resolve(ref)
			if err != nil {
				return "", err
			}
			return img.ID, nil
		}
	}
	list, err := rt.Ps(opts)
	if err != nil {
		return observeError(cli, err)
	}

	userFormat := o.format
	if o.quiet {
		userFormat = "{{.ID}}"
	} else if userFormat == "" || userFormat == "table" {
		userFormat = psDefaultFormat
		if o.size {
			userFormat += `\t{{.Size}}`
		}
	}
	wantSize := o.size || strings.Contains(userFormat, ".Size") || userFormat == "json"
	imageSizes := map[string]int64{}
	now := time.Now()
	rows := make([]*psRow, len(list))
	for i, c := range list {
		row := &psRow{c: c, trunc: !o.noTrunc, now: now}
		if wantSize {
			row.sized = true
			row.sizeRw, _ = rt.SizeRw(c.ID)
			isz, ok := imageSizes[c.ImageID]
			if !ok && c.ImageID != "" {
				if s := imageStore(); s != nil {
					if img, err := s.Resolve(c.ImageID); err == nil {
						isz = img.Size
					}
				}
				imageSizes[c.ImageID] = isz
			}
			row.sizeRootFs = row.sizeRw + isz
		}
		rows[i] = row
	}
	return writePs(cli.Out, userFormat, rows)
}

// writePs prints rows with userFormat. The default table (with or without the size column) is
// rendered directly: the same output as psTable.Write, without a template and a tabwriter.
func writePs(w io.Writer, userFormat string, rows []*psRow) error {
	if size := userFormat == psDefaultFormat+`\t{{.Size}}`; size || userFormat == psDefaultFormat {
		if out, ok := renderPsDefault(rows, size); ok {
			_, err := w.Write(out)
			return err
		}
	}
	items := make([]any, len(rows))
	for i, r := range rows {
		items[i] = r
	}
	return psTable.Write(w, userFormat, items)
}

// psDefaultHeaders are the default table's column headers.
var psDefaultHeaders = []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "SIZE"}

// renderPsDefault renders the default table as format.Table's tabwriter does (every column but
// the last padded to its widest cell in runes plus 3, at least 10), or reports false when a
// cell holds something the tabwriter treats specially (a tab, a line break, invalid UTF-8).
func renderPsDefault(rows []*psRow, size bool) ([]byte, bool) {
	ncol := 7
	if size {
		ncol = 8
	}
	cells := make([]string, 0, (len(rows)+1)*ncol)
	cells = append(cells, psDefaultHeaders[:ncol]...)
	for _, r := range rows {
		cells = append(cells, r.ID(), r.Image(), r.Command(), r.RunningFor(), r.Status(), r.Ports(), r.Names())
		if size {
			cells = append(cells, r.Size())
		}
	}
	runes := make([]int, len(cells))
	widths := make([]int, ncol-1)
	total := 0
	for i, c := range cells {
		n, ok := cellWidth(c)
		if !ok {
			return nil, false
		}
		runes[i] = n
		total += len(c)
		if col := i % ncol; col < ncol-1 && n+3 > widths[col] {
			widths[col] = n + 3
		}
	}
	for i := range widths {
		widths[i] = max(widths[i], 10)
		total += widths[i] * (len(rows) + 1)
	}
	buf := make([]byte, 0, total+len(rows)+1)
	for i, c := range cells {
		buf = append(buf, c...)
		col := i % ncol
		if col == ncol-1 {
			buf = append(buf, '\n')
			continue
		}
		for pad := widths[col] - runes[i]; pad > 0; pad-- {
			buf = append(buf, ' ')
		}
	}
	return buf, true
}

// cellWidth is the width of a table cell in runes, false when the tabwriter would treat one of
// its bytes specially.
func cellWidth(c string) (int, bool) {
	ascii := true
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b == '\t' || b == '\n' || b == '\v' || b == '\f':
			return 0, false
		case b >= utf8.RuneSelf:
			ascii = false
		}
	}
	if ascii {
		return len(c), true
	}
	if !utf8.ValidString(c) {
		return 0, false
	}
	return utf8.RuneCountInString(c), true
}

// psDefaultFormat is docker/cli's default container table.
const psDefaultFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

var psTable = format.Table{
	Default: psDefaultFormat,
	Headers: map[string]string{
		"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
		"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
		"Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
		"LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
	},
}

// psRow is one container as `ps --format` templates see it: the methods are docker/cli's
// fields.
type psRow struct {
	c                  *runtime.Container
	trunc              bool
	now                time.Time
	sized              bool
	sizeRw, sizeRootFs int64
}

// ID is the short ID, or the full one with --no-trunc.
func (r *psRow) ID() string {
	if r.trunc {
		return ids.Truncate(r.c.ID)
	}
	return r.c.ID
}

// Names is the container's name.
func (r *psRow) Names() string { return r.c.Name }

// Image is the image as the user named it.
func (r *psRow) Image() string { return runtime.DisplayImage(r.c, r.trunc) }

// Command is the quoted command line, cut to 20 characters unless --no-trunc.
func (r *psRow) Command() string {
	cmd := runtime.CommandLine(&r.c.Record)
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

// CreatedAt is the creation time as Go prints a time.
func (r *psRow) CreatedAt() string { return time.Unix(r.c.Created.Unix(), 0).String() }

// RunningFor is "2 minutes ago".
func (r *psRow) RunningFor() string {
	return units.HumanDuration(r.now.UTC().Sub(time.Unix(r.c.Created.Unix(), 0))) + " ago"
}

// Ports is the PORTS column.
func (r *psRow) Ports() string { return runtime.DisplayPorts(runtime.Ports(r.c)) }

// State is the one-word state ("running", "exited").
func (r *psRow) State() string { return r.c.State.Status }

// Status is "Up 3 minutes", "Exited (0) 4 minutes ago" and the like.
func (r *psRow) Status() string { return runtime.StatusText(&r.c.State, r.now) }

// Size is "2B (virtual 21.5MB)".
func (r *psRow) Size() string {
	srw := units.HumanSizeWithPrecision(float64(r.sizeRw), 3)
	if r.sizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", srw, units.HumanSizeWithPrecision(float64(r.sizeRootFs), 3))
	}
	return srw
}

// Labels is "k=v,k2=v2", sorted.
func (r *psRow) Labels() string { return joinLabels(r.c.Labels()) }

// Label returns one label's value.
func (r *psRow) Label(name string) string { return r.c.Labels()[name] }

// Mounts lists volume names (or bind sources), each cut to 15 characters unless --no-trunc.
func (r *psRow) Mounts() string {
	out := make([]string, 0, len(r.c.Mounts))
	for _, m := range r.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		out = append(out, name)
	}
	return strings.Join(out, ",")
}

// LocalVolumes counts the mounts of the local volume driver.
func (r *psRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return fmt.Sprint(n)
}

// Networks lists the networks the container is attached to.
func (r *psRow) Networks() string {
	nets := r.c.State.Networks
	if len(nets) == 0 {
		nets = r.c.Record.Networks
	}
	out := make([]string, 0, len(nets))
	for name := range nets {
		out = append(out, name)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// Platform is the container's platform.
func (r *psRow) Platform() string { return "linux" }

// MarshalJSON is the `--format json` object, as docker/cli prints it.
func (r *psRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"Command": r.Command(), "CreatedAt": r.CreatedAt(), "ID": r.ID(), "Image": r.Image(),
		"Labels": r.Labels(), "LocalVolumes": r.LocalVolumes(), "Mounts": r.Mounts(),
		"Names": r.Names(), "Networks": r.Networks(), "Ports": r.Ports(),
		"RunningFor": r.RunningFor(), "Size": r.Size(), "State": r.State(), "Status": r.Status(),
	})
}

// ellipsis cuts s to max characters, the last one an ellipsis, as docker/cli's Ellipsis does.
func ellipsis(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 1 {
		return string([]rune(s)[:max])
	}
	return string([]rune(s)[:max-1]) + "…"
}

// observeError prints a runtime error as Docker's CLI prints one returned by the daemon
// ("Error response from daemon: ...") and makes berth exit 1; flag-level StatusErrors pass
// through unchanged.
func observeError(cli *CLI, err error) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	fmt.Fprintln(cli.Err, "Error response from daemon: "+err.Error())
	return &StatusError{Code: 1}
}

// addObserveCommands registers ps, inspect, top, stats, pause, unpause, rename, update and
// container prune, top-level and under `container` (created here if the life cycle commands
// have not made it yet).
func addObserveCommands(root *cobra.Command, cli *CLI) {
	var group *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "container" {
			group = c
		}
	}
	if group == nil {
		group = &cobra.Command{
			Use:   "container COMMAND",
			Short: "Manage containers",
			Args:  noArgs,
			RunE:  func(c *cobra.Command, args []string) error { return c.Help() },
		}
		root.AddCommand(group)
	}
	root.AddCommand(
		newPsCommand(cli, "ps"),
		newInspectCommand(cli),
		newTopCommand(cli),
		newStatsCommand(cli),
		newPauseCommand(cli),
		newUnpauseCommand(cli),
		newRenameCommand(cli),
		newUpdateCommand(cli),
	)
	group.AddCommand(
		newPsCommand(cli, "ls", "list", "ps"),
		newContainerInspectCommand(cli),
		newTopCommand(cli),
		newStatsCommand(cli),
		newPauseCommand(cli),
		newUnpauseCommand(cli),
		newRenameCommand(cli),
		newUpdateCommand(cli),
		newContainerPruneCommand(cli),
	)
}
