package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/runtime"
)

// statsInterval is the time between two samples, Docker's collection period.
const statsInterval = time.Second

type statsOptions struct {
	all      bool
	noStream bool
	noTrunc  bool
	format   string
}

// newStatsCommand is `stats [OPTIONS] [CONTAINER...]`.
func newStatsCommand(cli *CLI) *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runStats(ctx, cli, &o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&o.noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "Do not truncate output")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// statsTarget is one container being watched: how the user named it and its last sample.
type statsTarget struct {
	ref  string
	c    *runtime.Container
	prev runtime.StatsSample
	cur  runtime.StatsSample
	err  error
}

func runStats(ctx context.Context, cli *CLI, o *statsOptions, args []string) error {
	rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
	if err != nil {
		return err
	}
	targets := map[string]*statsTarget{}
	var order []string
	// refresh (re)reads the containers to show: the named ones, or every running one (every
	// one with --all). It reports named containers that do not exist.
	refresh := func() error {
		var list []*statsTarget
		if len(args) > 0 {
			var errs []error
			for _, a := range args {
				c, err := rt.Get(a)
				if err != nil {
					if t := targets[a]; t != nil && errors.Is(err, errdefs.ErrNotFound) {
						t.c.State.Status = runtime.StatusExited // removed meanwhile: show zeros
						list = append(list, t)
						continue
					}
					errs = append(errs, err)
					continue
				}
				list = append(list, &statsTarget{ref: a, c: c})
			}
			if len(errs) > 0 {
				return errors.Join(errs...)
			}
		} else {
			all, err := rt.List()
			if err != nil {
				return err
			}
			for i := len(all) - 1; i >= 0; i-- { // oldest first, as docker stats adds them
				c := all[i]
				if o.all || c.IsRunning() {
					list = append(list, &statsTarget{ref: c.ID, c: c})
				}
			}
		}
		next := map[string]*statsTarget{}
		order = order[:0]
		for _, t := range list {
			if old := targets[t.ref]; old != nil {
				old.c = t.c
				t = old
			}
			next[t.ref] = t
			order = append(order, t.ref)
		}
		targets = next
		return nil
	}
	sample := func() {
		for _, ref := range order {
			t := targets[ref]
			t.prev = t.cur
			t.cur, t.err = runtime.SampleStats(t.c)
		}
	}
	userFormat := o.format
	if userFormat == "" || userFormat == "table" {
		userFormat = statsDefaultFormat
	}
	render := func() ([]byte, error) {
		rows := make([]any, 0, len(order))
		for _, ref := range order {
			t := targets[ref]
			e := runtime.ComputeStats(t.prev, t.cur)
			e.ID, e.Name = t.c.ID, t.c.Name
			e.Invalid = t.err != nil
			rows = append(rows, &statsRow{e: e, container: t.ref, trunc: !o.noTrunc})
		}
		var buf bytes.Buffer
		err := statsTable.Write(&buf, userFormat, rows)
		return buf.Bytes(), err
	}
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(statsInterval):
			return true
		}
	}

	if err := refresh(); err != nil {
		return observeError(cli, err)
	}
	sample()
	if o.noStream {
		if len(order) == 0 {
			return nil
		}
		if !wait() {
			return nil
		}
		sample()
		out, err := render()
		if err != nil {
			return err
		}
		_, err = cli.Out.Write(out)
		return err
	}

	fmt.Fprint(cli.Out, "\033[2J\033[H")
	for {
		if !wait() {
			return nil
		}
		if err := refresh(); err != nil {
			return observeError(cli, err)
		}
		sample()
		out, err := render()
		if err != nil {
			return err
		}
		// Home the cursor, overwrite line by line (clearing each line's rest) and clear below:
		// docker/cli's flicker-free redraw.
		var frame bytes.Buffer
		frame.WriteString("\033[H")
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			frame.Write(line)
			frame.WriteString("\033[K\n")
		}
		frame.WriteString("\033[J")
		if _, err := cli.Out.Write(frame.Bytes()); err != nil {
			return nil // the reader went away (a closed pipe)
		}
	}
}

// statsDefaultFormat is docker/cli's default stats table on Linux.
const statsDefaultFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsTable = format.Table{
	Default: statsDefaultFormat,
	Headers: map[string]string{
		"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
		"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
		"BlockIO": "BLOCK I/O", "PIDs": "PIDS",
	},
}

// statsRow is one `stats` line; its methods are docker/cli's --format fields.
type statsRow struct {
	e         runtime.StatsEntry
	container string
	trunc     bool
}

// Container is the container as the user named it (its ID when listing all).
func (r *statsRow) Container() string { return r.container }

// Name is the container's name, "--" when unknown.
func (r *statsRow) Name() string {
	if r.e.Name == "" {
		return "--"
	}
	return r.e.Name
}

// ID is the short ID, the full one with --no-trunc.
func (r *statsRow) ID() string {
	if r.trunc {
		return ids.Truncate(r.e.ID)
	}
	return r.e.ID
}

// CPUPerc is "0.07%".
func (r *statsRow) CPUPerc() string {
	if r.e.Invalid {
		return "--"
	}
	return percent(r.e.CPUPercentage)
}

// MemUsage is "1.5MiB / 7.7GiB".
func (r *statsRow) MemUsage() string {
	if r.e.Invalid {
		return "-- / --"
	}
	return units.BytesSize(r.e.Memory) + " / " + units.BytesSize(r.e.MemoryLimit)
}

// MemPerc is "0.02%".
func (r *statsRow) MemPerc() string {
	if r.e.Invalid {
		return "--"
	}
	return percent(r.e.MemoryPercentage)
}

// NetIO is "1.2kB / 648B".
func (r *statsRow) NetIO() string {
	if r.e.Invalid {
		return "--"
	}
	return units.HumanSizeWithPrecision(r.e.NetworkRx, 3) + " / " + units.HumanSizeWithPrecision(r.e.NetworkTx, 3)
}

// BlockIO is "4.1kB / 0B".
func (r *statsRow) BlockIO() string {
	if r.e.Invalid {
		return "--"
	}
	return units.HumanSizeWithPrecision(r.e.BlockRead, 3) + " / " + units.HumanSizeWithPrecision(r.e.BlockWrite, 3)
}

// PIDs is the number of processes.
func (r *statsRow) PIDs() string {
	if r.e.Invalid {
		return "--"
	}
	return strconv.FormatUint(r.e.PidsCurrent, 10)
}

// MarshalJSON is the `--format json` object.
func (r *statsRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"BlockIO": r.BlockIO(), "CPUPerc": r.CPUPerc(), "Container": r.Container(), "ID": r.ID(),
		"MemPerc": r.MemPerc(), "MemUsage": r.MemUsage(), "Name": r.Name(), "NetIO": r.NetIO(),
		"PIDs": r.PIDs(),
	})
}

func percent(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "%" }
