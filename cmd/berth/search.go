package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/format"
	"github.com/spf13/cobra"
)

// searchTable is docker/cli's search table (v25 and later: no AUTOMATED column).
var searchTable = format.Table{
	Default: "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}",
	Headers: map[string]string{"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL"},
}

// searchRow is one result as --format templates see it: .Name .Description .StarCount .IsOfficial.
type searchRow struct {
	r     image.SearchResult
	trunc bool
	json  bool
}

// Name is the repository's name.
func (s searchRow) Name() string { return s.r.Name }

// Description is one line, cut to 45 columns with "…" unless --no-trunc.
func (s searchRow) Description() string {
	d := strings.NewReplacer("\n", " ", "\r", " ").Replace(s.r.Description)
	if s.trunc {
		d = format.Ellipsis(d, 45)
	}
	return d
}

// StarCount is the number of stars.
func (s searchRow) StarCount() string { return strconv.Itoa(s.r.StarCount) }

// IsOfficial is "[OK]" for an official image ("true"/"false" in JSON).
func (s searchRow) IsOfficial() string {
	switch {
	case s.json:
		return strconv.FormatBool(s.r.IsOfficial)
	case s.r.IsOfficial:
		return "[OK]"
	}
	return ""
}

// MarshalJSON renders the row as docker/cli's --format json does: every field a string.
func (s searchRow) MarshalJSON() ([]byte, error) {
	s.json = true
	return json.Marshal(map[string]string{
		"Name": s.Name(), "Description": s.Description(), "StarCount": s.StarCount(), "IsOfficial": s.IsOfficial(),
	})
}

// searchFilterFlag is search's repeatable --filter name=value; a value without "=" is a flag
// error (exit 125), as docker/cli's FilterOpt makes it.
type searchFilterFlag []string

// String implements pflag.Value.
func (f *searchFilterFlag) String() string { return strings.Join(*f, ",") }

// Set implements pflag.Value.
func (f *searchFilterFlag) Set(v string) error {
	if v != "" && !strings.Contains(v, "=") {
		return errors.New("bad format of filter (expected name=value)")
	}
	*f = append(*f, v)
	return nil
}

// Type implements pflag.Value.
func (f *searchFilterFlag) Type() string { return "filter" }

func newSearchCommand(cli *CLI) *cobra.Command {
	var opts struct {
		noTrunc bool
		filters searchFilterFlag
		limit   int
		format  string
	}
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search Docker Hub for images",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			filters := map[string][]string{}
			for _, f := range opts.filters {
				if err := image.ParseSearchFilter(filters, f); err != nil {
					return imageError(cli, err)
				}
			}
			if _, ok := filters["is-automated"]; ok {
				fmt.Fprintln(cli.Err, `WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" will not yield any results in future.`)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			results, err := image.Search(ctx, args[0], image.SearchOptions{Limit: opts.limit, Filters: filters})
			if err != nil {
				return imageError(cli, err)
			}
			rows := make([]any, len(results))
			for i, r := range results {
				rows[i] = searchRow{r: r, trunc: !opts.noTrunc}
			}
			return imageError(cli, searchTable.Write(cli.Out, opts.format, rows))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output")
	f.VarP(&opts.filters, "filter", "f", "Filter output based on conditions provided")
	f.IntVar(&opts.limit, "limit", 0, "Max number of search results")
	f.StringVar(&opts.format, "format", "", "Pretty-print search using a Go template")
	return cmd
}
