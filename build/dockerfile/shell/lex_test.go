package shell

import (
	"reflect"
	"strings"
	"testing"
)

var testEnv = EnvsFromSlice([]string{
	"PWD=/home", "EMPTY=", "SPACE=a  b ", "X=xa*b?x", "PATH=/usr/local/bin:/usr/bin:/bin", "FILE=archive.tar.gz",
})

func TestProcessWord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"hello", "hello"},
		{"", ""},
		{"he'll'o", "hello"},
		{`he\'llo`, "he'llo"},
		{`abc\tdef`, "abctdef"},
		{`"abc\tdef"`, `abc\tdef`},
		{`"abc\\tdef"`, `abc\tdef`},
		{`'abc\tdef'`, `abc\tdef`},
		{`hello\`, "hello"},
		{`hello\\`, `hello\`},
		{`"hel'lo"`, "hel'lo"},
		{`'hello\'`, `hello\`},
		{`"''"`, "''"},
		{"$.", "$."},
		{"$", "$"},
		{"he$1x", "hex"},
		{"he$PWD", "he/home"},
		{"he$PWD.", "he/home."},
		{`he\$PWD`, "he$PWD"},
		{`he\\$PWD`, `he\/home`},
		{`"he\$PWD"`, "he$PWD"},
		{`"he\\$PWD"`, `he\/home`},
		{`'he$PWD'`, "he$PWD"},
		{`\${}`, "${}"},
		{"he${PWD}xx", "he/homexx"},
		{"he${UNSET}xx", "hexx"},
		{"${SPACE}", "a  b "},
		{`"${SPACE}"`, "a  b "},
		// Defaults and alternatives.
		{"${UNSET:-def}", "def"},
		{"${EMPTY:-def}", "def"},
		{"${PWD:-def}", "/home"},
		{"${UNSET-def}", "def"},
		{"${EMPTY-def}", ""},
		{"${UNSET:+alt}", ""},
		{"${EMPTY:+alt}", ""},
		{"${PWD:+alt}", "alt"},
		{"${UNSET+alt}", ""},
		{"${EMPTY+alt}", "alt"},
		{"${UNSET:-${PWD}}", "/home"},
		{"${UNSET:-${OTHER:-deep}}", "deep"},
		{`${UNSET:-"a }b"}`, "a }b"},
		{`${UNSET:-\}}`, "}"},
		{"${PWD:?}", "/home"},
		{"${EMPTY?}", ""},
		// Pattern removal and replacement.
		{"${FILE#*.}", "tar.gz"},
		{"${FILE##*.}", "gz"},
		{"${FILE%.*}", "archive.tar"},
		{"${FILE%%.*}", "archive"},
		{"${FILE#nomatch}", "archive.tar.gz"},
		{`${X#xa\*}`, "b?x"},
		{"${FILE/a/A}", "Archive.tar.gz"},
		{"${FILE//a/A}", "Archive.tAr.gz"},
		{"${PATH//:/ }", "/usr/local/bin /usr/bin /bin"},
		{"${FILE/.*/}", "archive"},
		{"${UNSET/a/b}", ""},
		// Special parameters and heredoc markers pass through.
		{"${#}", ""},
		{"a <<EOF", "a <<EOF"},
		{"é$PWD", "é/home"},
	}
	lex := NewLex('\\')
	for _, tt := range tests {
		got, _, err := lex.ProcessWord(tt.in, testEnv)
		if err != nil {
			t.Errorf("ProcessWord(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ProcessWord(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestProcessWordErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"he'llo", "unexpected end of statement while looking for matching single-quote"},
		{`"hello`, "unexpected end of statement while looking for matching double-quote"},
		{`"hello\"`, "matching double-quote"},
		{"${}", "syntax error: bad substitution"},
		{"${:x}", "syntax error: bad substitution"},
		{"${{x}", "syntax error: bad substitution"},
		{"${", "syntax error: missing '}'"},
		{"${PWD", "syntax error: missing '}'"},
		{"${PWD:-abc", "syntax error: missing '}'"},
		{"${PWD:=x}", "unsupported modifier (:=) in substitution"},
		{"${PWD:#x}", "unsupported modifier (:#) in substitution"},
		{"${PWD^}", "unsupported modifier (^) in substitution"},
		{"${UNSET?}", "UNSET: is not allowed to be unset"},
		{"${UNSET:?custom $PWD}", "UNSET: custom /home"},
		{"${EMPTY:?}", "EMPTY: is not allowed to be empty"},
		{"${PWD/x", "syntax error: missing '/' in ${}"},
		{"${PWD/x/y", "syntax error: missing '}'"},
	}
	lex := NewLex('\\')
	for _, tt := range tests {
		_, _, err := lex.ProcessWord(tt.in, testEnv)
		if err == nil {
			t.Errorf("ProcessWord(%q): no error, want %q", tt.in, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "failed to process ") {
			t.Errorf("ProcessWord(%q) error %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestProcessWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"hello", []string{"hello"}},
		{"hello there", []string{"hello", "there"}},
		{"  hello   there  ", []string{"hello", "there"}},
		{`hello\ there`, []string{"hello there"}},
		{`hello" there  "`, []string{"hello there  "}},
		{`hello\" there`, []string{`hello"`, "there"}},
		{`hello'$PWD'`, []string{"hello$PWD"}},
		{"x${SPACE}y", []string{"xa", "b", "y"}},
		{`x"${SPACE}"y`, []string{"xa  b y"}},
		{"he${UNSET:-a b}x", []string{"hea", "bx"}},
		{`"" a ''`, []string{"a"}},
		{"", nil},
		{"8080 ${PWD}/tcp", []string{"8080", "/home/tcp"}},
	}
	lex := NewLex('\\')
	for _, tt := range tests {
		got, err := lex.ProcessWords(tt.in, testEnv)
		if err != nil {
			t.Errorf("ProcessWords(%q): %v", tt.in, err)
			continue
		}
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ProcessWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBacktickEscape(t *testing.T) {
	t.Parallel()
	lex := NewLex('`')
	tests := []struct{ in, want string }{
		{"C:\\dir\\$PWD", `C:\dir\/home`},
		{"`$PWD", "$PWD"},
		{"a` b", "a b"},
		{"\"`\"x\"", `"x`},
		{"\"a\\b\"", `a\b`},
	}
	for _, tt := range tests {
		got, _, err := lex.ProcessWord(tt.in, testEnv)
		if err != nil || got != tt.want {
			t.Errorf("ProcessWord(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLexOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*Lex)
		in    string
		want  string
	}{
		{"raw quotes", func(l *Lex) { l.RawQuotes = true }, `a"b c"'d'`, `a"b c"'d'`},
		{"raw escapes", func(l *Lex) { l.RawEscapes = true }, `a\$b`, `a\$b`},
		{"skip quotes", func(l *Lex) { l.SkipProcessQuotes = true }, `"a $PWD"`, `"a /home"`},
		{"skip unset $", func(l *Lex) { l.SkipUnsetEnv = true }, "$UNSET $PWD", "$UNSET /home"},
		{"skip unset ${}", func(l *Lex) { l.SkipUnsetEnv = true }, "${UNSET}", "${UNSET}"},
		{"skip unset modifier", func(l *Lex) { l.SkipUnsetEnv = true }, "${UNSET:-x}", "${UNSET:-x}"},
		{"skip unset replace", func(l *Lex) { l.SkipUnsetEnv = true }, "${UNSET//a/b}", "${UNSET//a/b}"},
	}
	for _, tt := range tests {
		lex := NewLex('\\')
		tt.setup(lex)
		got, _, err := lex.ProcessWord(tt.in, testEnv)
		if err != nil || got != tt.want {
			t.Errorf("%s: ProcessWord(%q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	lex := NewLex('\\')
	res, err := lex.ProcessWordWithMatches("$PWD ${UNSET:-x} ${EMPTY} $PWD", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{}{"PWD": {}, "EMPTY": {}}
	if !reflect.DeepEqual(res.Matched, want) {
		t.Errorf("Matched = %v, want %v", res.Matched, want)
	}
	if !reflect.DeepEqual(res.Unmatched, map[string]struct{}{"UNSET": {}}) {
		t.Errorf("Unmatched = %v", res.Unmatched)
	}
	if res.Result != "/home x  /home" || !reflect.DeepEqual(res.Words, []string{"/home", "x", "/home"}) {
		t.Errorf("Result %q, Words %q", res.Result, res.Words)
	}
	_, unmatched, _ := lex.ProcessWord("$A$B", testEnv)
	if len(unmatched) != 2 {
		t.Errorf("ProcessWord unmatched = %v, want A and B", unmatched)
	}
}

func TestEnvsFromSlice(t *testing.T) {
	t.Parallel()
	env := EnvsFromSlice([]string{"A=1", "B", "C=x=y", "A=2"})
	for _, tt := range []struct {
		key, want string
		ok        bool
	}{{"A", "2", true}, {"B", "", true}, {"C", "x=y", true}, {"a", "", false}, {"D", "", false}} {
		if v, ok := env.Get(tt.key); v != tt.want || ok != tt.ok {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.key, v, ok, tt.want, tt.ok)
		}
	}
	if got := env.Keys(); !reflect.DeepEqual(got, []string{"A", "B", "C", "A"}) {
		t.Errorf("Keys() = %q", got)
	}
	if !EqualEnvKeys("PATH", "PATH") || EqualEnvKeys("PATH", "path") {
		t.Error("EqualEnvKeys is not case-sensitive")
	}
}

func TestPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "abc", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbb", false},
		{"?", "é", true},
		{"a?c", "abc", true},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"*.go", "x.go", true},
		{"**x", "abx", true},
	}
	for _, tt := range tests {
		if got := compilePattern(tt.pattern).match([]rune(tt.s)); got != tt.want {
			t.Errorf("match(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
	if got := compilePattern("").replace("abc", "X", true); got != "XaXbXcX" {
		t.Errorf("empty pattern replace all = %q", got)
	}
	if got := compilePattern("b*").replace("abcabc", "X", false); got != "aX" {
		t.Errorf("greedy replace = %q", got)
	}
}
