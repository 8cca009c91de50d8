package format

import (
	"reflect"
	"strings"
	"text/template"
	"text/template/parse"
)

// fieldList is a template made only of text and {{.Name}} actions, as the default tables of
// ps, images, networks and volumes are. write renders it by calling the items' methods directly:
// text/template looks each method up by name and calls it through reflection for every cell,
// which was a fifth of `ps -a` on a large store.
type fieldList struct {
	text  []string // text[i] comes before field i; the last one after the last field
	names []string
	// methods caches, per item type, the index of each name's method (nil: not a plain
	// `func() string` method for every name: the item goes through text/template).
	methods map[reflect.Type][]int
}

// simpleFields returns t as a fieldList when it is only text and {{.Name}} actions.
func simpleFields(t *template.Template) *fieldList {
	if t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	fl := &fieldList{methods: map[reflect.Type][]int{}}
	var cur strings.Builder
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			cur.Write(n.Text)
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
				return nil
			}
			f, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) != 1 {
				return nil
			}
			fl.text = append(fl.text, cur.String())
			cur.Reset()
			fl.names = append(fl.names, f.Ident[0])
		default:
			return nil
		}
	}
	fl.text = append(fl.text, cur.String())
	return fl
}

// disableFieldList turns the fast path off (tests compare it with text/template).
var disableFieldList = false

var stringFunc = reflect.TypeOf(func() string { return "" })

// render appends item rendered to buf and reports true, or reports false (buf untouched) when
// some name is not a `func() string` method of item: text/template must render it (fields,
// methods with other results, map keys), with its own rules and errors.
func (fl *fieldList) render(buf []byte, item any) ([]byte, bool) {
	v := reflect.ValueOf(item)
	if !v.IsValid() {
		return buf, false
	}
	idx, seen := fl.methods[v.Type()]
	if !seen {
		for _, name := range fl.names {
			m, ok := v.Type().MethodByName(name)
			if !ok || m.Type.NumIn() != 1 || v.Method(m.Index).Type() != stringFunc {
				idx = nil
				break
			}
			idx = append(idx, m.Index)
		}
		fl.methods[v.Type()] = idx
	}
	if idx == nil {
		return buf, false
	}
	for i, mi := range idx {
		buf = append(buf, fl.text[i]...)
		buf = append(buf, v.Method(mi).Interface().(func() string)()...)
	}
	return append(buf, fl.text[len(idx)]...), true
}
