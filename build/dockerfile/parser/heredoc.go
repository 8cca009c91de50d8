package parser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-project/berth/build/dockerfile/shell"
)

// ParseHeredoc parses a heredoc word ("<<EOF", "<<-'EOF'", "3<<EOF"): nil (and no error) when
// src is not one.
func ParseHeredoc(src string) (*Heredoc, error) {
	i := 0
	for i < len(src) && src[i] >= '0' && src[i] <= '9' {
		i++
	}
	fd, rest, ok := src[:i], src[i:], false
	if rest, ok = strings.CutPrefix(rest, "<<"); !ok {
		return nil, nil
	}
	rest, chomp := strings.CutPrefix(rest, "-")
	rest = strings.TrimLeftFunc(rest, func(r rune) bool { return r < 128 && isSpaceByte(byte(r)) && r != '\v' })
	if rest == "" || strings.Contains(rest, "<") {
		return nil, nil
	}
	n, _ := strconv.ParseUint(fd, 10, 0)

	// The word is lexed with and without its quotes: if they differ, part of it was quoted
	// and the content does not expand.
	lex := shell.NewLex('\\')
	lex.SkipUnsetEnv = true
	words, err := lex.ProcessWords(rest, noEnv{})
	if err != nil {
		return nil, err
	}
	if len(words) != 1 {
		return nil, nil
	}
	lex.RawQuotes = true
	raw, err := lex.ProcessWords(rest, noEnv{})
	if err != nil {
		return nil, err
	}
	if len(raw) != 1 {
		return nil, fmt.Errorf("internal lexing of heredoc produced inconsistent results: %s", rest)
	}
	quotes := func(s string) int { return strings.Count(s, `'`) + strings.Count(s, `"`) }
	return &Heredoc{
		Name:           words[0],
		FileDescriptor: uint(n),
		Expand:         quotes(words[0]) == quotes(raw[0]),
		Chomp:          chomp,
	}, nil
}

// MustParseHeredoc is ParseHeredoc with errors taken as "not a heredoc".
func MustParseHeredoc(src string) *Heredoc {
	h, _ := ParseHeredoc(src)
	return h
}

// heredocsFromLine returns the heredocs an instruction line starts, in order.
func heredocsFromLine(line string) ([]Heredoc, error) {
	lex := shell.NewLex('\\')
	lex.RawQuotes = true
	lex.RawEscapes = true
	lex.SkipUnsetEnv = true
	words, _ := lex.ProcessWords(line, noEnv{})
	var docs []Heredoc
	for _, w := range words {
		h, err := ParseHeredoc(w)
		if err != nil {
			return nil, err
		}
		if h != nil {
			docs = append(docs, *h)
		}
	}
	return docs, nil
}

// ChompHeredocContent removes the leading tabs of every line of src ("<<-").
func ChompHeredocContent(src string) string {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(l, "\t")
	}
	return strings.Join(lines, "\n")
}

// noEnv is an environment without variables.
type noEnv struct{}

func (noEnv) Get(string) (string, bool) { return "", false }
func (noEnv) Keys() []string            { return nil }
