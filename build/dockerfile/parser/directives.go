package parser

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// The parser directives Docker knows; any other "# key=value" line is a comment.
const (
	keySyntax = "syntax"
	keyCheck  = "check"
	keyEscape = "escape"
)

// Directive is a parser directive ("# escape=`") at the top of a Dockerfile.
type Directive struct {
	Name     string // lower case
	Value    string
	Location []Range
}

// DirectiveParser recognizes parser directives line by line: they are only allowed before
// anything else (the first other line ends them), and each at most once. Its zero value reads
// "#" directives.
type DirectiveParser struct {
	line    int
	comment string // "#" unless set
	seen    map[string]struct{}
	done    bool
}

// ParseLine reads the next line: the directive it holds, nil when it holds none (and from then
// on), or an error for a directive given twice.
func (d *DirectiveParser) ParseLine(line []byte) (*Directive, error) {
	d.line++
	if d.done {
		return nil, nil
	}
	comment := d.comment
	if comment == "" {
		comment = "#"
	}
	key, value, ok := matchDirective(string(line), comment)
	if !ok {
		d.done = true
		return nil, nil
	}
	key = strings.ToLower(key)
	switch key {
	case keySyntax, keyEscape, keyCheck:
	default:
		d.done = true
		return nil, nil
	}
	if _, dup := d.seen[key]; dup {
		return nil, fmt.Errorf("only one %s parser directive can be used", key)
	}
	if d.seen == nil {
		d.seen = map[string]struct{}{}
	}
	d.seen[key] = struct{}{}
	loc := []Range{{Start: Position{Line: d.line}, End: Position{Line: d.line}}}
	return &Directive{Name: key, Value: value, Location: loc}, nil
}

// ParseAll reads the directives at the top of data.
func (d *DirectiveParser) ParseAll(data []byte) ([]*Directive, error) {
	var out []*Directive
	sc := bufio.NewScanner(bytes.NewReader(data))
	for !d.done && sc.Scan() {
		dir, err := d.ParseLine(sc.Bytes())
		if err != nil {
			return out, err
		}
		if dir != nil {
			out = append(out, dir)
		}
	}
	return out, nil
}

// isDirectiveSpace is white space as a directive line counts it.
func isDirectiveSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// matchDirective splits "<comment> key = value" (blanks optional, the key a letter followed by
// letters and digits, the value not empty and trimmed on the right).
func matchDirective(s, comment string) (key, value string, ok bool) {
	s, ok = strings.CutPrefix(s, comment)
	if !ok {
		return "", "", false
	}
	s = strings.TrimLeftFunc(s, func(r rune) bool { return r < 128 && isDirectiveSpace(byte(r)) })
	i := 0
	for i < len(s) && (isASCIILetter(s[i]) || (i > 0 && s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	key = s[:i]
	rest := strings.TrimLeftFunc(s[i:], func(r rune) bool { return r < 128 && isDirectiveSpace(byte(r)) })
	rest, ok = strings.CutPrefix(rest, "=")
	if !ok || rest == "" {
		return "", "", false
	}
	value = strings.TrimFunc(rest, func(r rune) bool { return r < 128 && isDirectiveSpace(byte(r)) })
	if value == "" {
		// Only blanks: the value is the last of them, as a lazy regular expression has it.
		value = rest[len(rest)-1:]
	}
	return key, value, true
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// DetectSyntax returns the frontend named by the "syntax" directive of a Dockerfile (its first
// word, then the whole value), where it is, and whether there is one. Besides "# syntax=", it
// accepts "// syntax=" and a JSON object {"syntax": "..."}, after an optional "#!" line.
func DetectSyntax(dt []byte) (string, string, []Range, bool) {
	return parseDirective(keySyntax, dt, true)
}

// ParseDirective returns the value of the "# key=" directive of a Dockerfile (its first word,
// then the whole value), where it is, and whether there is one.
func ParseDirective(key string, dt []byte) (string, string, []Range, bool) {
	return parseDirective(key, dt, false)
}

func parseDirective(key string, dt []byte, anyFormat bool) (string, string, []Range, bool) {
	dt = discardBOM(dt)
	line := 0
	if first, rest, _ := bytes.Cut(dt, []byte("\n")); bytes.HasPrefix(first, []byte("#!")) {
		dt = rest
		line = 1
	}
	comments := []string{"#"}
	if anyFormat {
		comments = append(comments, "//")
	}
	for _, c := range comments {
		p := DirectiveParser{line: line, comment: c}
		dirs, _ := p.ParseAll(dt)
		for _, d := range dirs {
			if d.Name == key {
				first, _, _ := strings.Cut(d.Value, " ")
				return first, d.Value, d.Location, true
			}
		}
	}
	if anyFormat {
		var obj map[string]any
		if json.Unmarshal(dt, &obj) == nil {
			if v, ok := obj[key].(string); ok {
				return v, v, []Range{{Start: Position{Line: line}, End: Position{Line: line}}}, true
			}
		}
	}
	return "", "", nil, false
}

func discardBOM(dt []byte) []byte {
	return bytes.TrimPrefix(dt, []byte{0xEF, 0xBB, 0xBF})
}
