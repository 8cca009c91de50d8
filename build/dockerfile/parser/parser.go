package parser

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Node is a node of the syntax tree. The root's Children are the instructions; an
// instruction's Value is its keyword as written and its arguments follow as the list Next,
// Next.Next, ... (a sub-instruction, as ONBUILD's, is the single child of its Next).
type Node struct {
	Value       string          // the keyword or argument
	Next        *Node           // the next argument
	Children    []*Node         // the instructions (root) or a sub-instruction
	Heredocs    []Heredoc       // the here-documents of the instruction
	Attributes  map[string]bool // "json": the arguments were a JSON array
	Original    string          // the instruction's line, continuations joined
	Flags       []string        // the instruction's --flags
	StartLine   int             // the line the instruction starts on (from 1)
	EndLine     int             // the line it ends on
	PrevComment []string        // the comment lines right above it
}

// Location returns the lines of the node, one range per line.
func (node *Node) Location() []Range {
	return toRanges(node.StartLine, node.EndLine)
}

// Dump returns the tree under node as s-expressions, one instruction per line.
func (node *Node) Dump() string {
	var b strings.Builder
	b.WriteString(strings.ToLower(node.Value))
	if len(node.Flags) > 0 {
		fmt.Fprintf(&b, " %q", node.Flags)
	}
	for _, c := range node.Children {
		b.WriteString("(" + c.Dump() + ")\n")
	}
	for n := node.Next; n != nil; n = n.Next {
		if len(n.Children) > 0 {
			b.WriteString(" " + n.Dump())
		} else {
			b.WriteString(" " + strconv.Quote(n.Value))
		}
	}
	return strings.TrimSpace(b.String())
}

// AddChild appends child, which spans lines startLine to endLine, and extends node's lines.
func (node *Node) AddChild(child *Node, startLine, endLine int) {
	child.StartLine, child.EndLine = startLine, endLine
	if node.StartLine < 0 {
		node.StartLine = startLine
	}
	node.EndLine = endLine
	node.Children = append(node.Children, child)
}

// canContainHeredoc reports whether the instruction (or ONBUILD's) is RUN, COPY or ADD in shell
// form.
func (node *Node) canContainHeredoc() bool {
	n := node
	if strings.EqualFold(n.Value, "onbuild") && n.Next != nil && len(n.Next.Children) > 0 {
		n = n.Next.Children[0]
	}
	switch strings.ToLower(n.Value) {
	case "run", "copy", "add":
		return !n.Attributes["json"]
	}
	return false
}

// Heredoc is a here-document ("<<EOF ... EOF") of an instruction.
type Heredoc struct {
	Name           string // the delimiter word, quotes removed
	FileDescriptor uint   // the number before "<<", 0 if none
	Expand         bool   // whether variables in Content expand (the word was not quoted)
	Chomp          bool   // "<<-": leading tabs are removed
	Content        string // the lines up to the delimiter, line endings kept
}

// DefaultEscapeToken is the escape character without an "escape" directive.
const DefaultEscapeToken = '\\'

// Result is a parsed Dockerfile.
type Result struct {
	AST         *Node
	EscapeToken rune
	Warnings    []Warning
}

// Warning is something the parser accepted but Docker warns about.
type Warning struct {
	Short    string
	Detail   [][]byte
	URL      string
	Location *Range
}

// PrintWarnings writes the warnings to out as Docker's classic builder prints them.
func (r *Result) PrintWarnings(out io.Writer) {
	if len(r.Warnings) == 0 {
		return
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(out, "[WARNING]: %s\n", w.Short)
	}
	fmt.Fprintf(out, "[WARNING]: Empty continuation lines will become errors in a future release.\n")
}

// directives is the parser state the directives set.
type directives struct {
	parser DirectiveParser
	escape rune
}

func (d *directives) setEscape(s string) error {
	if s != "`" && s != `\` {
		return fmt.Errorf("invalid escape token '%s' does not match ` or \\", s)
	}
	d.escape = rune(s[0])
	return nil
}

// directive reads line as a possible parser directive and applies it.
func (d *directives) directive(line []byte) (bool, error) {
	dir, err := d.parser.ParseLine(line)
	if err != nil || dir == nil {
		return false, err
	}
	if dir.Name == keyEscape {
		if err := d.setEscape(dir.Value); err != nil {
			return false, err
		}
	}
	return true, nil
}

// processLine removes line's ending (and, first lines of instructions, its leading blanks),
// applies it if it is a directive and returns it, or nothing for a comment.
func (d *directives) processLine(line []byte, trimLeft bool) ([]byte, bool, error) {
	line = bytes.TrimRight(line, "\r\n")
	if trimLeft {
		line = bytes.TrimLeftFunc(line, unicode.IsSpace)
	}
	isDirective, err := d.directive(line)
	if isComment(line) {
		line = nil
	}
	return line, isDirective, err
}

// continuation removes a trailing escape token (and the blanks after it) and reports whether
// the line ends the instruction. An escaped escape token does not continue the line.
func (d *directives) continuation(line []byte) ([]byte, bool) {
	t := bytes.TrimRight(line, " \t")
	n := len(t)
	if n == 0 || rune(t[n-1]) != d.escape || (n > 1 && rune(t[n-2]) == d.escape) {
		return line, true
	}
	return t[:n-1], false
}

func isComment(line []byte) bool {
	line = bytes.TrimLeftFunc(line, unicode.IsSpace)
	return len(line) > 0 && line[0] == '#'
}

// Parse reads a Dockerfile. Errors are *LocationError (errors.As) with the lines they are on.
func Parse(r io.Reader) (*Result, error) {
	d := &directives{escape: DefaultEscapeToken}
	sc := bufio.NewScanner(r)
	sc.Split(scanLines)
	root := &Node{StartLine: -1}
	warnings := []Warning{}
	var comments []string
	var buf bytes.Buffer
	line := 0
	for sc.Scan() {
		raw := sc.Bytes()
		if line == 0 {
			raw = discardBOM(raw)
		}
		if isComment(raw) {
			c := bytes.TrimLeftFunc(raw, unicode.IsSpace)[1:]
			if s := strings.TrimSpace(string(c)); s == "" {
				comments = nil
			} else {
				comments = append(comments, s)
			}
		}
		text, isDirective, err := d.processLine(raw, true)
		if isDirective && len(comments) > 0 {
			comments = comments[:len(comments)-1]
		}
		if err != nil {
			return nil, withLocation(err, line+1, 0)
		}
		line++
		start := line
		text, end := d.continuation(text)
		if end && len(text) == 0 {
			continue
		}
		buf.Reset()
		buf.Write(text)
		emptyContinuation := false
		for !end && sc.Scan() {
			raw := sc.Bytes()
			text, _, err := d.processLine(raw, false)
			if err != nil {
				return nil, withLocation(err, line+1, 0)
			}
			line++
			if isComment(raw) {
				continue
			}
			if len(bytes.TrimLeftFunc(text, unicode.IsSpace)) == 0 {
				emptyContinuation = true
				continue
			}
			text, end = d.continuation(text)
			buf.Write(text)
		}
		logical := buf.String()
		if emptyContinuation {
			warnings = append(warnings, Warning{
				Short:    "Empty continuation line found in: " + logical,
				Detail:   [][]byte{[]byte("Empty continuation lines will become errors in a future release")},
				URL:      "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
				Location: &Range{Start: Position{Line: line}, End: Position{Line: line}},
			})
		}
		child, err := newNodeFromLine(logical, d, comments)
		if err != nil {
			return nil, withLocation(err, start, line)
		}
		if child.canContainHeredoc() && strings.Contains(logical, "<<") {
			docs, err := heredocsFromLine(logical)
			if err != nil {
				return nil, withLocation(err, start, line)
			}
			for _, h := range docs {
				terminated := false
				for sc.Scan() {
					raw := sc.Bytes()
					line++
					candidate := bytes.TrimRight(raw, "\r\n")
					if h.Chomp {
						candidate = bytes.TrimLeft(candidate, "\t")
					}
					if string(candidate) == h.Name {
						terminated = true
						break
					}
					h.Content += string(raw)
				}
				if !terminated {
					return nil, withLocation(errors.New("unterminated heredoc"), start, line)
				}
				child.Heredocs = append(child.Heredocs, h)
			}
		}
		root.AddChild(child, start, line)
		comments = nil
	}
	if root.StartLine < 0 {
		return nil, withLocation(errors.New("file with no instructions"), line, 0)
	}
	res := &Result{AST: root, Warnings: warnings, EscapeToken: d.escape}
	return res, withLocation(scanError(sc.Err()), line, 0)
}

// scanLines is bufio.ScanLines keeping the line endings (here-documents keep them).
func scanLines(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func scanError(err error) error {
	if errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("dockerfile line greater than max allowed size of %d", bufio.MaxScanTokenSize-1)
	}
	return err
}
