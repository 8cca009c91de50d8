package parser

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

var (
	errNotStringArray = errors.New("when using JSON array syntax, arrays must be comprised of strings only")
	errNotJSONArray   = errors.New("not a JSON array")
)

// argParser turns an instruction's arguments into the Next list of its node, with the node's
// attributes.
type argParser func(rest string, d *directives) (*Node, map[string]bool, error)

// argParserFor returns how the arguments of the instruction cmd (lower case) are split.
// Unknown instructions keep no arguments: they are reported by the instructions package.
func argParserFor(cmd string) argParser {
	switch cmd {
	case "add", "copy", "volume":
		return parseMaybeJSONToList
	case "arg":
		return parseNameOrNameVal
	case "cmd", "entrypoint", "run", "shell":
		return parseMaybeJSON
	case "env":
		return func(rest string, d *directives) (*Node, map[string]bool, error) {
			n, err := parseNameVal(rest, "ENV", d)
			return n, nil, err
		}
	case "label":
		return func(rest string, d *directives) (*Node, map[string]bool, error) {
			n, err := parseNameVal(rest, "LABEL", d)
			return n, nil, err
		}
	case "expose", "from":
		return parseWhitespaceDelimited
	case "healthcheck":
		return parseHealthConfig
	case "maintainer", "stopsignal", "user", "workdir":
		return parseString
	case "onbuild":
		return parseSubCommand
	}
	return func(string, *directives) (*Node, map[string]bool, error) { return &Node{}, nil, nil }
}

// newNodeFromLine parses one logical line (continuations joined) into an instruction node.
func newNodeFromLine(line string, d *directives, comments []string) (*Node, error) {
	cmd, flags, args, err := splitCommand(line, d)
	if err != nil {
		return nil, err
	}
	next, attrs, err := argParserFor(strings.ToLower(cmd))(args, d)
	if err != nil {
		return nil, err
	}
	return &Node{
		Value:       cmd,
		Original:    line,
		Flags:       flags,
		Next:        next,
		Attributes:  attrs,
		PrevComment: comments,
	}, nil
}

// isBlank is the white space that separates a keyword and its arguments.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'
}

// isSpaceByte is ASCII white space.
func isSpaceByte(c byte) bool { return isBlank(c) || c == '\n' }

// splitBlanks splits s at runs of blanks into at most n parts (all if n < 0).
func splitBlanks(s string, n int) []string {
	var out []string
	for n < 0 || len(out) < n-1 {
		i := strings.IndexFunc(s, func(r rune) bool { return r < 128 && isBlank(byte(r)) })
		if i < 0 {
			break
		}
		j := i
		for j < len(s) && isBlank(s[j]) {
			j++
		}
		out = append(out, s[:i])
		s = s[j:]
	}
	return append(out, s)
}

// splitCommand splits a logical line into its keyword, its --flags and the rest.
func splitCommand(line string, d *directives) (string, []string, string, error) {
	parts := splitBlanks(strings.TrimSpace(line), 2)
	if len(parts) < 2 {
		return parts[0], nil, "", nil
	}
	args, flags := extractBuilderFlags(parts[1], d.escape)
	return parts[0], flags, strings.TrimSpace(args), nil
}

// extractBuilderFlags takes the leading words of line that start with "--" (quotes and escapes
// processed; a lone "--" ends them) and returns the rest of the line.
func extractBuilderFlags(line string, escape rune) (string, []string) {
	flags := []string{}
	pos := 0
	for {
		for pos < len(line) && isSpaceByte(line[pos]) {
			pos++
		}
		if pos == len(line) {
			return "", flags
		}
		if !strings.HasPrefix(line[pos:], "--") {
			return line[pos:], flags
		}
		var w strings.Builder
		var quote byte
		quoted := false
		for pos < len(line) {
			c := line[pos]
			if quote == 0 {
				if isSpaceByte(c) {
					break
				}
				if c == '\'' || c == '"' {
					quote, quoted = c, true
					pos++
					continue
				}
			} else if c == quote {
				quote = 0
				pos++
				continue
			}
			if rune(c) == escape {
				pos++
				if pos == len(line) {
					quote = 0
					continue
				}
				c = line[pos]
			}
			w.WriteByte(c)
			pos++
		}
		word := w.String()
		if word == "--" {
			if pos == len(line) {
				return "", flags
			}
			return line[pos:], flags
		}
		if quoted || word != "" {
			flags = append(flags, word)
		}
	}
}

// parseWords splits rest into words at unquoted white space, keeping quotes and escapes in
// the words (they are processed at expansion). Inside single quotes the escape token is
// literal.
func parseWords(rest string, escape rune) []string {
	words := []string{}
	var w strings.Builder
	inWord, blankOK := false, false
	var quote rune
	rs := []rune(rest)
	for i := 0; i < len(rs); i++ {
		ch := rs[i]
		if quote != 0 {
			switch {
			case ch == quote:
				quote = 0
			case ch == escape && quote != '\'':
				if i+1 == len(rs) {
					quote = 0
					continue
				}
				w.WriteRune(ch)
				i++
				ch = rs[i]
			}
			w.WriteRune(ch)
			continue
		}
		if unicode.IsSpace(ch) {
			if inWord && (blankOK || w.Len() > 0) {
				words = append(words, w.String())
			}
			w.Reset()
			inWord, blankOK = false, false
			continue
		}
		inWord = true
		switch {
		case ch == '\'' || ch == '"':
			quote, blankOK = ch, true
		case ch == escape:
			if i+1 == len(rs) {
				continue
			}
			w.WriteRune(ch)
			i++
			ch = rs[i]
		}
		w.WriteRune(ch)
	}
	if inWord && (blankOK || w.Len() > 0) {
		words = append(words, w.String())
	}
	return words
}

// parseNameVal parses ENV and LABEL: "name value..." (one pair, the value the rest of the
// line) or "name=value name2=value2 ...". Each pair is three nodes: name, value and "=" (or ""
// for the first form).
func parseNameVal(rest, key string, d *directives) (*Node, error) {
	words := parseWords(rest, d.escape)
	if len(words) == 0 {
		return nil, nil
	}
	if !strings.Contains(words[0], "=") {
		parts := splitBlanks(rest, 2)
		if len(parts) < 2 {
			return nil, fmt.Errorf("%s must have two arguments", key)
		}
		return keyValueNode(parts[0], parts[1], ""), nil
	}
	var root, last *Node
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("Syntax error - can't find = in %q. Must be of the form: name=value", w)
		}
		n := keyValueNode(k, v, "=")
		if root == nil {
			root = n
		} else {
			last.Next = n
		}
		last = n.Next.Next
	}
	return root, nil
}

func keyValueNode(key, value, sep string) *Node {
	return &Node{Value: key, Next: &Node{Value: value, Next: &Node{Value: sep}}}
}

// listNode links values into a Next list (nil for none).
func listNode(values []string) *Node {
	var root, last *Node
	for _, v := range values {
		n := &Node{Value: v}
		if root == nil {
			root = n
		} else {
			last.Next = n
		}
		last = n
	}
	return root
}

// parseNameOrNameVal parses ARG: words, each "name" or "name=value".
func parseNameOrNameVal(rest string, d *directives) (*Node, map[string]bool, error) {
	return listNode(parseWords(rest, d.escape)), nil, nil
}

// parseWhitespaceDelimited splits rest at blanks, quotes or not.
func parseWhitespaceDelimited(rest string, _ *directives) (*Node, map[string]bool, error) {
	if rest == "" {
		return nil, nil, nil
	}
	return listNode(splitBlanks(rest, -1)), nil, nil
}

// parseString keeps rest as one argument.
func parseString(rest string, _ *directives) (*Node, map[string]bool, error) {
	if rest == "" {
		return nil, nil, nil
	}
	return &Node{Value: rest}, nil, nil
}

// parseJSON parses a JSON array of strings, with the "json" attribute.
func parseJSON(rest string) (*Node, map[string]bool, error) {
	rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	if !strings.HasPrefix(rest, "[") {
		return nil, nil, errNotJSONArray
	}
	var arr []any
	if err := json.Unmarshal([]byte(rest), &arr); err != nil {
		return nil, nil, err
	}
	values := make([]string, 0, len(arr))
	for _, v := range arr {
		s, ok := v.(string)
		if !ok {
			return nil, nil, errNotStringArray
		}
		values = append(values, s)
	}
	return listNode(values), map[string]bool{"json": true}, nil
}

// parseMaybeJSON parses the exec form (a JSON array of strings) or else keeps the shell form
// as one argument. A JSON array of anything but strings is an error.
func parseMaybeJSON(rest string, _ *directives) (*Node, map[string]bool, error) {
	if rest == "" {
		return nil, nil, nil
	}
	n, attrs, err := parseJSON(rest)
	if err == nil {
		return n, attrs, nil
	}
	if errors.Is(err, errNotStringArray) {
		return nil, nil, err
	}
	return &Node{Value: rest}, nil, nil
}

// parseMaybeJSONToList parses a JSON array of strings or else splits rest at blanks.
func parseMaybeJSONToList(rest string, d *directives) (*Node, map[string]bool, error) {
	n, attrs, err := parseJSON(rest)
	if err == nil {
		return n, attrs, nil
	}
	if errors.Is(err, errNotStringArray) {
		return nil, nil, err
	}
	return parseWhitespaceDelimited(rest, d)
}

// parseHealthConfig parses HEALTHCHECK: a type word (CMD, NONE) then a command in either form.
func parseHealthConfig(rest string, d *directives) (*Node, map[string]bool, error) {
	sep := 0
	for sep < len(rest) && !isSpaceByte(rest[sep]) {
		sep++
	}
	if sep == 0 {
		return nil, nil, nil
	}
	next := sep
	for next < len(rest) && isSpaceByte(rest[next]) {
		next++
	}
	cmd, attrs, err := parseMaybeJSON(rest[next:], d)
	if err != nil {
		return nil, nil, err
	}
	return &Node{Value: rest[:sep], Next: cmd}, attrs, nil
}

// parseSubCommand parses ONBUILD's instruction as the single child of its argument.
func parseSubCommand(rest string, d *directives) (*Node, map[string]bool, error) {
	if rest == "" {
		return nil, nil, nil
	}
	child, err := newNodeFromLine(rest, d, nil)
	if err != nil {
		return nil, nil, err
	}
	return &Node{Children: []*Node{child}}, nil, nil
}
