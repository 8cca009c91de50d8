package shell

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Lex expands variables and splits words. Its zero options give Dockerfile semantics: quotes
// are removed, escapes applied, unset variables expand to "".
//
// A Lex holds no state between calls, but its options must not change during one.
type Lex struct {
	escapeToken rune

	// RawQuotes keeps the quote characters in the result.
	RawQuotes bool
	// RawEscapes keeps the escape tokens in the result.
	RawEscapes bool
	// SkipProcessQuotes treats quotes as ordinary characters.
	SkipProcessQuotes bool
	// SkipUnsetEnv leaves references to unset variables as written.
	SkipUnsetEnv bool
}

// NewLex returns a Lex that uses escapeToken ('\\' or '`') to escape characters.
func NewLex(escapeToken rune) *Lex {
	return &Lex{escapeToken: escapeToken}
}

// ProcessWordResult is the full outcome of an expansion.
type ProcessWordResult struct {
	// Result is the expanded word, its spaces kept.
	Result string
	// Words are the fields of the expansion, split on unquoted white space.
	Words []string
	// Matched are the names that were looked up and set; Unmatched those that were not.
	Matched   map[string]struct{}
	Unmatched map[string]struct{}
}

// ProcessWord expands word with env as one word (spaces kept) and returns the names it
// referenced that env does not set.
func (s *Lex) ProcessWord(word string, env EnvGetter) (string, map[string]struct{}, error) {
	r, err := s.process(word, env)
	return r.Result, r.Unmatched, err
}

// ProcessWords expands word with env and splits the result into fields on unquoted white space
// (including white space that came from a variable).
func (s *Lex) ProcessWords(word string, env EnvGetter) ([]string, error) {
	r, err := s.process(word, env)
	return r.Words, err
}

// ProcessWordWithMatches is ProcessWord with the names that were and were not set.
func (s *Lex) ProcessWordWithMatches(word string, env EnvGetter) (ProcessWordResult, error) {
	return s.process(word, env)
}

func (s *Lex) process(word string, env EnvGetter) (ProcessWordResult, error) {
	x := &expansion{lex: s, src: []rune(word), env: env, rawEscapes: s.RawEscapes}
	res, words, err := x.scan(eof, s.RawEscapes)
	if err != nil {
		err = fmt.Errorf("failed to process %q: %w", word, err)
	}
	return ProcessWordResult{Result: res, Words: words, Matched: x.matched, Unmatched: x.unmatched}, err
}

const eof rune = -1

var (
	errMissingBrace    = errors.New("syntax error: missing '}'")
	errBadSubstitution = errors.New("syntax error: bad substitution")
)

// expansion is one run of the lexer over src.
type expansion struct {
	lex        *Lex
	src        []rune
	pos        int
	env        EnvGetter
	rawEscapes bool
	matched    map[string]struct{}
	unmatched  map[string]struct{}
}

func (x *expansion) peek() rune {
	if x.pos >= len(x.src) {
		return eof
	}
	return x.src[x.pos]
}

func (x *expansion) next() rune {
	ch := x.peek()
	if ch != eof {
		x.pos++
	}
	return ch
}

// fields collects the words of an expansion.
type fields struct {
	words []string
	cur   strings.Builder
}

// char adds an unquoted character: white space ends the current word.
func (f *fields) char(ch rune) {
	if unicode.IsSpace(ch) {
		f.flush()
		return
	}
	f.cur.WriteRune(ch)
}

// raw adds a character that is part of the word whatever it is (quoted or escaped).
func (f *fields) raw(ch rune) { f.cur.WriteRune(ch) }

func (f *fields) rawString(s string) { f.cur.WriteString(s) }

// expanded adds the value of a variable, which is split like unquoted text.
func (f *fields) expanded(s string) {
	for _, ch := range s {
		f.char(ch)
	}
}

func (f *fields) flush() {
	if f.cur.Len() > 0 {
		f.words = append(f.words, f.cur.String())
		f.cur.Reset()
	}
}

func (f *fields) done() []string {
	f.flush()
	return f.words
}

// scan processes the input up to stop (consumed) or the end, with the escape tokens kept when
// rawEscapes is set.
func (x *expansion) scan(stop rune, rawEscapes bool) (string, []string, error) {
	saved := x.rawEscapes
	x.rawEscapes = rawEscapes
	defer func() { x.rawEscapes = saved }()

	var out strings.Builder
	var f fields
	quotes := !x.lex.SkipProcessQuotes
	for {
		ch := x.peek()
		if ch == eof {
			break
		}
		if stop != eof && ch == stop {
			x.next()
			return out.String(), f.done(), nil
		}
		switch {
		case ch == '$':
			v, err := x.dollar()
			if err != nil {
				return "", nil, err
			}
			out.WriteString(v)
			f.expanded(v)
		case ch == '<':
			v := x.heredocStart()
			out.WriteString(v)
			f.rawString(v)
		case ch == '\'' && quotes:
			v, err := x.singleQuoted()
			if err != nil {
				return "", nil, err
			}
			out.WriteString(v)
			f.rawString(v)
		case ch == '"' && quotes:
			v, err := x.doubleQuoted()
			if err != nil {
				return "", nil, err
			}
			out.WriteString(v)
			f.rawString(v)
		case ch == x.lex.escapeToken:
			x.next()
			if x.rawEscapes {
				out.WriteRune(ch)
				f.raw(ch)
			}
			ch = x.next()
			if ch == eof {
				// An escape token at the very end escapes nothing and goes.
				continue
			}
			out.WriteRune(ch)
			f.raw(ch)
		default:
			x.next()
			out.WriteRune(ch)
			f.char(ch)
		}
	}
	if stop != eof {
		return "", nil, fmt.Errorf("unexpected end of statement while looking for matching %c", stop)
	}
	return out.String(), f.done(), nil
}

// heredocStart passes "<<" with the blanks after it through as one piece, so that "<< EOF"
// stays one word for heredoc detection.
func (x *expansion) heredocStart() string {
	x.next()
	if x.peek() != '<' {
		return "<"
	}
	x.next()
	var b strings.Builder
	b.WriteString("<<")
	for ch := x.peek(); ch == ' ' || ch == '\t' || ch == '\r'; ch = x.peek() {
		b.WriteRune(x.next())
	}
	return b.String()
}

// singleQuoted reads '...': everything inside is literal, the escape token included.
func (x *expansion) singleQuoted() (string, error) {
	var b strings.Builder
	if q := x.next(); x.lex.RawQuotes {
		b.WriteRune(q)
	}
	for {
		switch ch := x.next(); ch {
		case eof:
			return "", errors.New("unexpected end of statement while looking for matching single-quote")
		case '\'':
			if x.lex.RawQuotes {
				b.WriteRune(ch)
			}
			return b.String(), nil
		default:
			b.WriteRune(ch)
		}
	}
}

// doubleQuoted reads "...": variables expand, and the escape token escapes only '"', '$' and
// itself (elsewhere it stays).
func (x *expansion) doubleQuoted() (string, error) {
	var b strings.Builder
	if q := x.next(); x.lex.RawQuotes {
		b.WriteRune(q)
	}
	for {
		switch ch := x.peek(); ch {
		case eof:
			return "", errors.New("unexpected end of statement while looking for matching double-quote")
		case '"':
			x.next()
			if x.lex.RawQuotes {
				b.WriteRune(ch)
			}
			return b.String(), nil
		case '$':
			v, err := x.dollar()
			if err != nil {
				return "", err
			}
			b.WriteString(v)
		default:
			x.next()
			if ch != x.lex.escapeToken {
				b.WriteRune(ch)
				continue
			}
			if x.rawEscapes {
				b.WriteRune(ch)
			}
			switch n := x.peek(); n {
			case eof:
			case '"', '$', x.lex.escapeToken:
				b.WriteRune(x.next())
			default:
				// Not escapable: the escape token stays (raw mode keeps it twice, as BuildKit).
				b.WriteRune(ch)
			}
		}
	}
}

// dollar expands the $NAME or ${...} at the current position.
func (x *expansion) dollar() (string, error) {
	x.next() // '$'
	if x.peek() != '{' {
		name := x.name()
		if name == "" {
			return "$", nil
		}
		v, ok := x.get(name)
		if !ok && x.lex.SkipUnsetEnv {
			return "$" + name, nil
		}
		return v, nil
	}
	x.next() // '{'
	switch x.peek() {
	case eof:
		return "", errMissingBrace
	case '{', '}', ':':
		return "", errBadSubstitution
	}
	name := x.name()
	switch op := x.next(); op {
	case eof:
		return "", errMissingBrace
	case '}':
		v, ok := x.get(name)
		if !ok && x.lex.SkipUnsetEnv {
			return "${" + name + "}", nil
		}
		return v, nil
	case '-', '+', '?', '#', '%':
		return x.modifier(name, op, false)
	case ':':
		switch op2 := x.next(); op2 {
		case '#', '%':
			return "", fmt.Errorf("unsupported modifier (:%c) in substitution", op2)
		case eof:
			return "", errMissingBrace
		default:
			return x.modifier(name, op2, true)
		}
	case '/':
		return x.replace(name)
	default:
		return "", fmt.Errorf("unsupported modifier (%c) in substitution", op)
	}
}

// modifier handles ${name<op>word} and, with colon, ${name:<op>word}, where a set but empty
// value counts as unset.
func (x *expansion) modifier(name string, op rune, colon bool) (string, error) {
	word, err := x.scanToBrace(op == '#' || op == '%')
	if err != nil {
		return "", err
	}
	value, set := x.get(name)
	if !set && x.lex.SkipUnsetEnv {
		c := ""
		if colon {
			c = ":"
		}
		return "${" + name + c + string(op) + word + "}", nil
	}
	unset := !set || (colon && value == "")
	switch op {
	case '-':
		if unset {
			return word, nil
		}
		return value, nil
	case '+':
		if unset {
			return "", nil
		}
		return word, nil
	case '?':
		if !set {
			return "", fmt.Errorf("%s: %s", name, orDefault(word, "is not allowed to be unset"))
		}
		if colon && value == "" {
			return "", fmt.Errorf("%s: %s", name, orDefault(word, "is not allowed to be empty"))
		}
		return value, nil
	case '#', '%':
	default:
		c := ""
		if colon {
			c = ":"
		}
		return "", fmt.Errorf("unsupported modifier (%s%c) in substitution", c, op)
	}
	// '#' removes a prefix, '%' a suffix: the shortest match, the longest when doubled.
	greedy := strings.HasPrefix(word, string(op))
	if greedy {
		word = word[1:]
	}
	p := compilePattern(word)
	if op == '#' {
		return p.trimPrefix(value, greedy), nil
	}
	return p.trimSuffix(value, greedy), nil
}

// replace handles ${name/pattern/replacement} and ${name//pattern/replacement}.
func (x *expansion) replace(name string) (string, error) {
	all := x.peek() == '/'
	if all {
		x.next()
	}
	pattern, _, err := x.scan('/', true)
	if err != nil {
		if x.peek() == eof {
			return "", errors.New("syntax error: missing '/' in ${}")
		}
		return "", err
	}
	repl, err := x.scanToBrace(true)
	if err != nil {
		return "", err
	}
	value, set := x.get(name)
	if !set && x.lex.SkipUnsetEnv {
		sep := "/"
		if all {
			sep = "//"
		}
		return "${" + name + sep + pattern + "/" + repl + "}", nil
	}
	return compilePattern(pattern).replace(value, repl, all), nil
}

// scanToBrace scans the word of a ${...} up to its closing brace (see scan); the end of the
// input first is a missing brace.
func (x *expansion) scanToBrace(raw bool) (string, error) {
	word, _, err := x.scan('}', raw)
	if err != nil && x.peek() == eof {
		return "", errMissingBrace
	}
	return word, err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// name reads a variable name: letters, digits and '_', or a run of digits (a positional
// parameter), or one special parameter character.
func (x *expansion) name() string {
	ch := x.peek()
	if ch == eof {
		return ""
	}
	if unicode.IsDigit(ch) {
		start := x.pos
		for unicode.IsDigit(x.peek()) {
			x.next()
		}
		return string(x.src[start:x.pos])
	}
	if isSpecialParam(ch) {
		x.next()
		return string(ch)
	}
	start := x.pos
	for ch := x.peek(); ch != eof && (unicode.IsLetter(ch) || unicode.IsDigit(ch) || ch == '_'); ch = x.peek() {
		x.next()
	}
	return string(x.src[start:x.pos])
}

// isSpecialParam reports the shell's special parameters ($@, $*, $#, $?, $-, $$, $!, $0).
func isSpecialParam(ch rune) bool {
	return strings.ContainsRune("@*#?-$!0", ch)
}

func (x *expansion) get(name string) (string, bool) {
	v, ok := x.env.Get(name)
	m := &x.unmatched
	if ok {
		m = &x.matched
	}
	if *m == nil {
		*m = map[string]struct{}{}
	}
	(*m)[name] = struct{}{}
	return v, ok
}
