package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"text/template"
	"time"

	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/format"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// addEventsCommands registers events (top level and under "system").
func addEventsCommands(root, system *cobra.Command, cli *CLI) {
	root.AddCommand(newEventsCommand(cli))
	system.AddCommand(newEventsCommand(cli))
}

type eventsOptions struct {
	since, until, format string
	filter               filterFlag // ps.go
}

// newEventsCommand is `events` (and `system events`): the journal's events, replayed with
// --since/--until and followed until --until or an interrupt.
func newEventsCommand(cli *CLI) *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:                   "events [OPTIONS]",
		Short:                 "Get real time events from the server",
		Args:                  noArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cli, &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "Show all events created since timestamp")
	f.StringVar(&o.until, "until", "", "Stream events until this timestamp")
	f.VarP(&o.filter, "filter", "f", "Filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates")
	return cmd
}

func runEvents(cli *CLI, o *eventsOptions) error {
	tmpl, err := eventsTemplate(o.format)
	if err != nil {
		fmt.Fprintln(cli.Err, "Error parsing format: "+err.Error())
		return &StatusError{Code: 64}
	}
	// As docker/cli: the times are read on the client (its words, no daemon prefix)...
	var opts events.Options
	now := time.Now()
	var sinceTS, untilTS string
	if o.since != "" {
		if opts.Since, sinceTS, err = events.ParseTime(o.since, now); err != nil {
			fmt.Fprintln(cli.Err, err.Error())
			return &StatusError{Code: 1}
		}
	}
	if o.until != "" {
		if opts.Until, untilTS, err = events.ParseTime(o.until, now); err != nil {
			fmt.Fprintln(cli.Err, err.Error())
			return &StatusError{Code: 1}
		}
	}
	// ...and checked, with the filters, by the daemon.
	if o.until != "" && opts.Until.Before(opts.Since) {
		return daemonError(cli, fmt.Errorf("`since` time (%s) cannot be after `until` time (%s)", sinceTS, untilTS))
	}
	if opts.Filter, err = events.ParseFilter(o.filter); err != nil {
		return daemonError(cli, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
	defer stop()
	var buf bytes.Buffer
	err = events.Stream(ctx, cli.RunRoot, opts, func(m *events.Message) error {
		buf.Reset()
		if tmpl == nil {
			events.WriteLine(&buf, m)
		} else {
			if err := tmpl.Execute(&buf, m); err != nil {
				return &eventTemplateError{err}
			}
			buf.WriteByte('\n')
		}
		_, err := cli.Out.Write(buf.Bytes())
		return err
	})
	var te *eventTemplateError
	if errors.As(err, &te) {
		fmt.Fprintln(cli.Err, te.err.Error())
		return &StatusError{Code: 1}
	}
	return err
}

// eventTemplateError is a --format template that failed on an event.
type eventTemplateError struct{ err error }

func (e *eventTemplateError) Error() string { return e.err.Error() }

// eventsTemplate compiles --format as docker/cli does for events: "" is the default line, "json"
// is {{json .}}, anything else a Go template with Docker's functions, tried once on an empty
// event so that a bad field fails before any event is read.
func eventsTemplate(text string) (*template.Template, error) {
	switch text {
	case "":
		return nil, nil
	case "json":
		text = "{{json .}}"
	}
	tmpl, err := format.Parse(text)
	if err != nil {
		var te *format.TemplateError
		if errors.As(err, &te) {
			err = te.Err
		}
		return nil, err
	}
	if err := tmpl.Execute(io.Discard, &events.Message{}); err != nil {
		return nil, err
	}
	return tmpl, nil
}
