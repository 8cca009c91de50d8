package format

import (
	"bytes"
	"testing"
)

type fastRow struct{ id, name string }

func (r *fastRow) ID() string   { return r.id }
func (r *fastRow) Name() string { return r.name }
func (r *fastRow) Size() int    { return len(r.name) }

type plainRow struct{ ID, Name string }

// The fast path must print exactly what text/template prints, and leave to text/template what it
// cannot do itself.
func TestFieldListMatchesTemplate(t *testing.T) {
	tbl := Table{Default: "table {{.ID}}\t{{.Name}}", Headers: map[string]string{"ID": "ID", "Name": "NAME", "Size": "SIZE"}}
	items := []any{&fastRow{"abc", "x y"}, &fastRow{"", "\"q\"\t<&>"}, &plainRow{"p", "plain"}, map[string]string{"ID": "m", "Name": "map"}}
	for _, format := range []string{
		"", "table", "{{.ID}}", "id={{.ID}} name={{.Name}}!", "table {{.Name}}\t{{.ID}}\t{{.ID}}",
		"{{.Size}}", "{{.ID}} {{.Size}}", "{{.ID | upper}}", "{{json .ID}}", "plain text",
	} {
		var fast, slow bytes.Buffer
		errFast := tbl.write(&fast, format, items)
		errSlow := slowWrite(tbl, &slow, format, items)
		if (errFast == nil) != (errSlow == nil) || fast.String() != slow.String() {
			t.Errorf("format %q:\nfast (%v):\n%s\ntemplate (%v):\n%s", format, errFast, fast.String(), errSlow, slow.String())
		}
	}
}

// slowWrite is write with the fast path disabled: every item through text/template.
func slowWrite(t Table, w *bytes.Buffer, format string, items []any) error {
	disableFieldList = true
	defer func() { disableFieldList = false }()
	return t.write(w, format, items)
}

func TestSimpleFields(t *testing.T) {
	for _, tc := range []struct {
		text   string
		simple bool
	}{
		{"{{.ID}}\t{{.Names}}", true},
		{"plain", true},
		{"{{.A.B}}", false},
		{"{{.A | upper}}", false},
		{"{{if .A}}x{{end}}", false},
		{"{{$x := .A}}", false},
		{"{{.Label \"k\"}}", false},
	} {
		tmpl, err := Parse(tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if got := simpleFields(tmpl) != nil; got != tc.simple {
			t.Errorf("simpleFields(%q) = %v, want %v", tc.text, got, tc.simple)
		}
	}
}
