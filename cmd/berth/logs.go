package main

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/runtime"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

type logsOptions struct {
	follow, timestamps, details bool
	tail, since, until          string
}

func newLogsCommand(cli *CLI) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := runtime.LogsOptions{Follow: o.follow, Timestamps: o.timestamps, Tail: -1}
			if o.tail != "" && o.tail != "all" {
				n, err := strconv.Atoi(o.tail)
				if err != nil {
					return daemonError(cli, errdefs.Invalid("invalid value for \"tail\": "+strconv.Quote(o.tail)))
				}
				if n >= 0 {
					opts.Tail = n
				}
			}
			var err error
			now := time.Now()
			if opts.Since, err = parseTimestamp(o.since, now); err != nil {
				return daemonError(cli, err)
			}
			if opts.Until, err = parseTimestamp(o.until, now); err != nil {
				return daemonError(cli, err)
			}
			rt, err := openContainers(cli)
			if err != nil {
				return err
			}
			stop := make(chan struct{})
			if o.follow {
				sigs := make(chan os.Signal, 1)
				signal.Notify(sigs, unix.SIGINT, unix.SIGTERM)
				go func() { <-sigs; close(stop) }()
			}
			opts.Stop = stop
			if err := rt.Logs(args[0], opts, cli.Out, cli.Err); err != nil {
				return daemonError(cli, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "Follow log output")
	f.BoolVarP(&o.timestamps, "timestamps", "t", false, "Show timestamps")
	f.BoolVar(&o.details, "details", false, "Show extra details provided to logs")
	f.StringVarP(&o.tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	f.StringVar(&o.since, "since", "", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	f.StringVar(&o.until, "until", "", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	return cmd
}

// parseTimestamp reads --since/--until as Docker: a Go duration before now, a Unix timestamp
// (with optional fraction) or an RFC 3339 / date form.
func parseTimestamp(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); ok || isDigits(v) {
		if isDigits(sec) && (frac == "" || isDigits(frac)) {
			s, _ := strconv.ParseInt(sec, 10, 64)
			var ns int64
			if frac != "" {
				for len(frac) < 9 {
					frac += "0"
				}
				ns, _ = strconv.ParseInt(frac[:9], 10, 64)
			}
			return time.Unix(s, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.Invalid("invalid value for \"since\"/\"until\": " + strconv.Quote(v))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
