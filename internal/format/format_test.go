package format

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

type row struct{ ID, Name string }

func TestTableWrite(t *testing.T) {
	tbl := Table{Default: "table {{.ID}}\t{{.Name}}", Headers: map[string]string{"ID": "ID", "Name": "NAME"}}
	items := []any{row{"a1", "first"}, row{"b2", "second-name"}}
	cases := []struct {
		format, want string
	}{
		// docker/cli's tabwriter: cells at least 10 wide, 3 spaces of padding.
		{"", "ID        NAME\na1        first\nb2        second-name\n"},
		{"table", "ID        NAME\na1        first\nb2        second-name\n"},
		{"table {{.Name}}", "NAME\nfirst\nsecond-name\n"},
		{"{{.ID}}:{{.Name}}", "a1:first\nb2:second-name\n"},
		{"json", "{\"ID\":\"a1\",\"Name\":\"first\"}\n{\"ID\":\"b2\",\"Name\":\"second-name\"}\n"},
		{`{{.ID}}\t{{upper .Name}}`, "a1\tFIRST\nb2\tSECOND-NAME\n"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := tbl.Write(&buf, c.format, items); err != nil || buf.String() != c.want {
			t.Errorf("Write(%q) = %q, %v; want %q", c.format, buf.String(), err, c.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	tbl := Table{Default: "table {{.ID}}", Headers: map[string]string{"ID": "ID"}}
	cases := []struct {
		format, want string
	}{
		{"{{.ID", "template parsing error: template: :1: unclosed action"},
		{"{{.Nope}}", `template parsing error: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type format.row`},
		{"table {{.Nope}}", `template parsing error: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type format.row`},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		err := tbl.Write(&buf, c.format, []any{row{"a1", "x"}, row{"b2", "y"}})
		var te *TemplateError
		if !errors.As(err, &te) || err.Error() != c.want {
			t.Errorf("Write(%q) error = %v, want %q (a *TemplateError)", c.format, err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("Write(%q) printed %q before failing", c.format, buf.String())
		}
	}
	var buf bytes.Buffer
	if err := Template(&buf, "{{.Missing}}", row{}); err == nil || !strings.HasPrefix(err.Error(), "template parsing error: ") {
		t.Errorf("Template error = %v", err)
	}
	if err := Template(&buf, "{{.ID}}-{{json .}}", row{ID: "<x>"}); err != nil || buf.String() != "<x>-{\"ID\":\"<x>\",\"Name\":\"\"}\n" {
		t.Errorf("Template = %q, %v", buf.String(), err)
	}
}

func TestSizeAndAgo(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 13256: "13.3kB", 1982501: "1.98MB", 141 * 1000 * 1000: "141MB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
