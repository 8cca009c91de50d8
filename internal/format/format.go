// Package format renders command output the way docker/cli does: aligned tables, Go templates with
// Docker's template functions, the "table ..." and "json" forms, and human sizes and durations.
package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/docker/go-units"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// Funcs are the template functions docker/cli offers in --format.
var Funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(buf.String()), nil
	},
	"split": strings.Split,
	"join":  strings.Join,
	"title": func(s string) string { return cases.Title(language.Und, cases.NoLower).String(s) },
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"pad":   func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"println": fmt.Sprintln,
}

// TemplateError is a --format template that does not parse or fails on a value. docker/cli
// reports both itself as "template parsing error: …" (never as an error from the daemon).
type TemplateError struct{ Err error }

func (e *TemplateError) Error() string { return "template parsing error: " + e.Err.Error() }

// Unwrap returns the text/template error.
func (e *TemplateError) Unwrap() error { return e.Err }

// Parse compiles a user template with Docker's functions. Errors use Docker's wording.
func Parse(text string) (*template.Template, error) {
	t, err := template.New("").Funcs(Funcs).Parse(text)
	if err != nil {
		return nil, &TemplateError{Err: err}
	}
	return t, nil
}

// NewTabWriter returns a tabwriter with docker/cli's settings (min width 10, padding 3).
func NewTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
}

// Table renders a list the way docker/cli does for `ls`-style commands.
type Table struct {
	// Default is the template used when the user gave no --format, e.g.
	// "table {{.ID}}\t{{.Name}}".
	Default string
	// Headers maps each field name to its column header ("ID" -> "CONTAINER ID").
	Headers map[string]string
}

// Write renders items with userFormat (or t.Default when empty). "table" and "table TEMPLATE"
// print a header row and align columns; "json" prints one JSON object per line; anything else is
// a raw template printed once per item followed by a newline.
func (t Table) Write(w io.Writer, userFormat string, items []any) error {
	// tabwriter writes cell by cell: gather the output and write it at once.
	bw := bufio.NewWriterSize(w, 32<<10)
	if err := t.write(bw, userFormat, items); err != nil {
		// As docker/cli: a template that fails prints none of the rows.
		return err
	}
	return bw.Flush()
}

func (t Table) write(w io.Writer, userFormat string, items []any) error {
	f := userFormat
	if f == "" {
		f = t.Default
	}
	switch {
	case f == "json":
		f = "{{json .}}"
	case f == "table":
		f = t.Default
	}
	table := false
	if strings.HasPrefix(f, "table") {
		table = true
		f = strings.TrimLeft(strings.TrimPrefix(f, "table"), " ")
	}
	f = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(f)
	tmpl, err := Parse(f)
	if err != nil {
		return err
	}
	var out io.Writer = w
	var tw *tabwriter.Writer
	if table {
		tw = NewTabWriter(w)
		out = tw
		var buf bytes.Buffer
		// As docker/cli: a header the template cannot render (a method with arguments such as
		// {{.Label "k"}}) ends the header row where it failed.
		tmpl.Execute(&buf, t.Headers)
		buf.WriteString("\n")
		out.Write(bytes.TrimLeft(buf.Bytes(), " "))
	}
	fields := simpleFields(tmpl)
	if disableFieldList {
		fields = nil
	}
	var row []byte
	for _, it := range items {
		if fields != nil {
			var ok bool
			if row, ok = fields.render(row[:0], it); ok {
				row = append(row, '\n')
				if _, err := out.Write(row); err != nil {
					return err
				}
				continue
			}
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, it); err != nil {
			return &TemplateError{Err: err}
		}
		buf.WriteString("\n")
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// Template executes a raw --format template (as `inspect -f` does) on v and appends a newline.
func Template(w io.Writer, text string, v any) error {
	tmpl, err := Parse(text)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		return &TemplateError{Err: err}
	}
	buf.WriteString("\n")
	_, err = w.Write(buf.Bytes())
	return err
}

// Size formats bytes as Docker does ("13.3kB", "4.26MB").
func Size(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// Ago formats the time since t as Docker's CREATED column does ("2 months ago").
func Ago(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// Duration formats d as Docker's STATUS column does ("Up 3 minutes").
func Duration(d time.Duration) string { return units.HumanDuration(d) }
