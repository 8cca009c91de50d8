package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/ids"
	"github.com/spf13/cobra"
)

// historyRow is one line of `history`; its fields are what --format templates see, in
// alphabetical order as docker/cli's `--format json` prints them.
type historyRow struct {
	Comment      string
	CreatedAt    string
	CreatedBy    string
	CreatedSince string
	ID           string
	Size         string
}

var historyTable = format.Table{
	Default: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
	Headers: map[string]string{"ID": "IMAGE", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED",
		"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"},
}

func newHistoryCommand(cli *CLI) *cobra.Command {
	var opts struct {
		human, quiet, noTrunc bool
		format                string
	}
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			img, err := store.Resolve(args[0])
			if err != nil {
				return imageError(cli, err)
			}
			items, err := store.History(img)
			if err != nil {
				return imageError(cli, err)
			}
			if opts.quiet {
				for _, it := range items {
					id := it.ID
					if !opts.noTrunc && id != "<missing>" {
						id = ids.Truncate(id)
					}
					cli.Out.Write([]byte(id + "\n"))
				}
				return nil
			}
			rows := make([]any, 0, len(items))
			for _, it := range items {
				r := historyRow{ID: it.ID, CreatedBy: strings.ReplaceAll(it.CreatedBy, "\t", " "), Comment: it.Comment}
				if !opts.noTrunc && r.ID != "<missing>" {
					r.ID = ids.Truncate(r.ID)
				}
				created := time.Unix(it.Created, 0)
				if opts.human {
					r.CreatedSince = format.Ago(created)
					r.CreatedAt = created.Format(time.RFC3339)
					r.Size = format.Size(it.Size)
				} else {
					r.CreatedSince = created.Format(time.RFC3339)
					r.CreatedAt = created.Format(time.RFC3339)
					r.Size = strconv.FormatInt(it.Size, 10)
				}
				if it.Created == 0 {
					r.CreatedSince, r.CreatedAt = "N/A", "N/A"
				}
				if !opts.noTrunc {
					r.CreatedBy = ellipsis(r.CreatedBy, 45)
				}
				rows = append(rows, r)
			}
			if err := historyTable.Write(cli.Out, opts.format, rows); err != nil {
				return imageError(cli, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.human, "human", "H", true, "Print sizes and dates in human readable format")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "Only show image IDs")
	f.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&opts.format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	return cmd
}
