package main

import (
	"encoding/json"
	"fmt"

	"github.com/berth-project/berth/internal/format"
)

// writeInspected prints what network / volume inspect found (a JSON array, or the -f template
// once per object), then Docker's daemon error line for each name not found; berth exits 1 if
// any was not found.
func writeInspected[T any](cli *CLI, tmpl string, found []T, errs []error) error {
	if tmpl == "" {
		data, err := json.MarshalIndent(found, "", "    ")
		if err != nil {
			return err
		}
		fmt.Fprintln(cli.Out, string(data))
	} else {
		for _, v := range found {
			if err := format.Template(cli.Out, tmpl, v); err != nil {
				return &StatusError{Code: 1, Msg: err.Error()}
			}
		}
	}
	for _, err := range errs {
		printDaemonError(cli, err)
	}
	if len(errs) > 0 {
		return errDaemonReported
	}
	return nil
}
