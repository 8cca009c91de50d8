package parser

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *Result {
	t.Helper()
	res, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return res
}

// TestParseDump checks the tree of each instruction form through Dump (of each instruction; the
// root's Dump puts them in parentheses).
func TestParseDump(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"from", "FROM busybox", `from "busybox"`},
		{"from as", "FROM --platform=linux/amd64 golang:1.22 AS build", `from ["--platform=linux/amd64"] "golang:1.22" "AS" "build"`},
		{"lower case keyword", "from busybox\nrun echo hi", "from \"busybox\"\nrun \"echo hi\""},
		{"run shell", "RUN echo  hello   world", `run "echo  hello   world"`},
		{"run exec", `RUN ["echo", "hello world"]`, `run "echo" "hello world"`},
		{"run empty exec", `RUN []`, `run`},
		{"run invalid json is shell", `RUN ["echo", ]`, `run "[\"echo\", ]"`},
		{"run flags", `RUN --mount=type=cache,target=/x --network=none make`, `run ["--mount=type=cache,target=/x" "--network=none"] "make"`},
		{"flag quotes", `COPY --chown="a b" --from='st' x /y`, `copy ["--chown=a b" "--from=st"] "x" "/y"`},
		{"flags end at --", `RUN -- --not-a-flag`, `run "--not-a-flag"`},
		{"cmd", `CMD ["nginx", "-g", "daemon off;"]`, `cmd "nginx" "-g" "daemon off;"`},
		{"entrypoint shell", `ENTRYPOINT exec top -b`, `entrypoint "exec top -b"`},
		{"shell", `SHELL ["/bin/bash", "-c"]`, `shell "/bin/bash" "-c"`},
		{"env legacy", `ENV PATH /usr/bin:/bin   extra`, `env "PATH" "/usr/bin:/bin   extra" ""`},
		{"env pairs", `ENV A=1 B="two words" C=a\ b D=`, `env "A" "1" "=" "B" "\"two words\"" "=" "C" "a\\ b" "=" "D" "" "="`},
		{"env single quotes", `ENV A='x\y'`, `env "A" "'x\\y'" "="`},
		{"label", `LABEL "com.example.a"="v 1" b=2`, `label "\"com.example.a\"" "\"v 1\"" "=" "b" "2" "="`},
		{"arg", `ARG A B=2 C="x y"`, `arg "A" "B=2" "C=\"x y\""`},
		{"expose", "EXPOSE 80/tcp   443 8000-8010", `expose "80/tcp" "443" "8000-8010"`},
		{"volume list", "VOLUME /a /b", `volume "/a" "/b"`},
		{"volume json", `VOLUME ["/a", "/b c"]`, `volume "/a" "/b c"`},
		{"copy json", `COPY ["a b", "/dst/"]`, `copy "a b" "/dst/"`},
		{"add", "ADD --chmod=755 https://x/y /z", `add ["--chmod=755"] "https://x/y" "/z"`},
		{"workdir keeps spaces", "WORKDIR /a b", `workdir "/a b"`},
		{"user", "USER 1000:1000", `user "1000:1000"`},
		{"stopsignal", "STOPSIGNAL SIGKILL", `stopsignal "SIGKILL"`},
		{"maintainer", "MAINTAINER Jane Doe <jane@example.com>", `maintainer "Jane Doe <jane@example.com>"`},
		{"healthcheck", "HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/", `healthcheck ["--interval=5s" "--retries=3"] "CMD" "curl -f http://localhost/"`},
		{"healthcheck json", `HEALTHCHECK CMD ["curl", "-f"]`, `healthcheck "CMD" "curl" "-f"`},
		{"healthcheck none", "HEALTHCHECK NONE", `healthcheck "NONE"`},
		{"onbuild", "ONBUILD RUN echo hi", `onbuild (run "echo hi")`},
		{"onbuild flags", "ONBUILD COPY --from=a x y", `onbuild (copy ["--from=a"] "x" "y")`},
		{"unknown keeps no args", "FOO bar baz", `foo ""`},
		{"continuation", "RUN echo a \\\n  b \\\n  c", `run "echo a   b   c"`},
		{"continuation keeps escaped escape", "RUN echo a\\\\\nRUN b", "run \"echo a\\\\\\\\\"\nrun \"b\""},
		{"continuation with trailing blanks", "RUN a \\  \t\n b", `run "a  b"`},
		{"comment inside continuation", "RUN a \\\n# comment \\\n b", `run "a  b"`},
		{"comments and blank lines", "# c1\n\n   # c2\nFROM x\n\n\n# trailing", `from "x"`},
		{"crlf", "FROM x\r\nRUN a \\\r\n b\r\n", "from \"x\"\nrun \"a  b\""},
		{"bom", "\xEF\xBB\xBFFROM x", `from "x"`},
		{"escape directive", "# escape=`\nFROM x\nRUN dir c:\\ `\n  /b", "from \"x\"\nrun \"dir c:\\\\   /b\""},
		{"syntax directive", "# syntax=docker/dockerfile:1\nFROM x", `from "x"`},
		{"directive after instruction is a comment", "FROM x\n# escape=`\nRUN a \\\n b", "from \"x\"\nrun \"a  b\""},
		{"directive after comment is a comment", "# hello\n# escape=`\nRUN a \\\n b", `run "a  b"`},
		{"heredoc word kept in args", "RUN <<EOF\necho hi\nEOF", `run "<<EOF"`},
	}
	for _, tt := range tests {
		res, err := Parse(strings.NewReader(tt.src))
		if err != nil {
			t.Errorf("%s: Parse: %v", tt.name, err)
			continue
		}
		var dumps []string
		for _, c := range res.AST.Children {
			dumps = append(dumps, c.Dump())
		}
		if got := strings.Join(dumps, "\n"); got != tt.want {
			t.Errorf("%s: Dump =\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

func TestParseLinesAndOriginal(t *testing.T) {
	t.Parallel()
	src := "# escape=\\\n\n# about x\nFROM x\nRUN a \\\n\n  b\n\n  CMD [\"c\"]  \n"
	res := mustParse(t, src)
	if res.EscapeToken != '\\' {
		t.Errorf("EscapeToken = %q", res.EscapeToken)
	}
	c := res.AST.Children
	if len(c) != 3 {
		t.Fatalf("%d children, want 3", len(c))
	}
	lines := [][2]int{{4, 4}, {5, 7}, {9, 9}}
	for i, n := range c {
		if n.StartLine != lines[i][0] || n.EndLine != lines[i][1] {
			t.Errorf("child %d lines %d-%d, want %v", i, n.StartLine, n.EndLine, lines[i])
		}
	}
	if res.AST.StartLine != 4 || res.AST.EndLine != 9 {
		t.Errorf("root lines %d-%d", res.AST.StartLine, res.AST.EndLine)
	}
	if c[1].Original != "RUN a   b" || c[2].Original != `CMD ["c"]  ` {
		t.Errorf("Original %q, %q", c[1].Original, c[2].Original)
	}
	if !reflect.DeepEqual(c[0].PrevComment, []string{"about x"}) {
		t.Errorf("PrevComment = %q", c[0].PrevComment)
	}
	if !c[2].Attributes["json"] || c[1].Attributes["json"] {
		t.Errorf("json attributes %v %v", c[1].Attributes, c[2].Attributes)
	}
	if got := c[1].Location(); len(got) != 3 || got[0].Start.Line != 5 || got[2].End.Line != 7 {
		t.Errorf("Location() = %v", got)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Short != "Empty continuation line found in: RUN a   b" {
		t.Errorf("Warnings = %+v", res.Warnings)
	}
	var out strings.Builder
	res.PrintWarnings(&out)
	if !strings.Contains(out.String(), "[WARNING]: Empty continuation lines will become errors in a future release.") {
		t.Errorf("PrintWarnings wrote %q", out.String())
	}
}

func TestParseHeredocs(t *testing.T) {
	t.Parallel()
	src := "FROM x\n" +
		"RUN <<EOF\necho $A\nEOF\n" +
		"COPY <<-\"EOT\" /dst\n\tline 1\n\t\tline 2\n\tEOT\n" +
		"RUN 3<<A cat /dev/fd/3 <<B\na\nA\nb\nB\n" +
		"RUN [\"<<EOF\"]\n" +
		"ONBUILD RUN <<X\nx\nX\n"
	res := mustParse(t, src)
	c := res.AST.Children
	if len(c) != 6 {
		t.Fatalf("%d children: %s", len(c), res.AST.Dump())
	}
	want := [][]Heredoc{
		nil,
		{{Name: "EOF", Expand: true, Content: "echo $A\n"}},
		{{Name: "EOT", Chomp: true, Content: "\tline 1\n\t\tline 2\n"}},
		{{Name: "A", FileDescriptor: 3, Expand: true, Content: "a\n"}, {Name: "B", Expand: true, Content: "b\n"}},
		nil,
		{{Name: "X", Expand: true, Content: "x\n"}},
	}
	for i, n := range c {
		if !reflect.DeepEqual(n.Heredocs, want[i]) {
			t.Errorf("child %d (%s) heredocs %+v, want %+v", i, n.Original, n.Heredocs, want[i])
		}
	}
	if c[1].EndLine != 4 || c[2].StartLine != 5 || c[2].EndLine != 8 {
		t.Errorf("lines: %d-%d, %d-%d", c[1].StartLine, c[1].EndLine, c[2].StartLine, c[2].EndLine)
	}
	if got := ChompHeredocContent(c[2].Heredocs[0].Content); got != "line 1\nline 2\n" {
		t.Errorf("ChompHeredocContent = %q", got)
	}
}

func TestParseHeredocWord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want *Heredoc
	}{
		{"<<EOF", &Heredoc{Name: "EOF", Expand: true}},
		{"<<-EOF", &Heredoc{Name: "EOF", Expand: true, Chomp: true}},
		{"<<'EOF'", &Heredoc{Name: "EOF"}},
		{`<<"EOF"`, &Heredoc{Name: "EOF"}},
		{`<<E"O"F`, &Heredoc{Name: "EOF"}},
		{"2<<EOF", &Heredoc{Name: "EOF", Expand: true, FileDescriptor: 2}},
		{"<< EOF", &Heredoc{Name: "EOF", Expand: true}},
		{"<<", nil},
		{"<<a b", nil},
		{"<<<EOF", nil},
		{"EOF", nil},
		{"a<<EOF", nil},
	}
	for _, tt := range tests {
		got, err := ParseHeredoc(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseHeredoc(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if m := MustParseHeredoc(tt.in); !reflect.DeepEqual(m, tt.want) {
			t.Errorf("MustParseHeredoc(%q) = %+v", tt.in, m)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
		line            int
	}{
		{"empty", "", "file with no instructions", 0},
		{"only comments", "# a\n\n# b\n", "file with no instructions", 3},
		{"bad escape", "# escape=x\nFROM a", "invalid escape token 'x' does not match ` or \\", 1},
		{"duplicate directive", "# escape=\\\n# escape=`\nFROM a", "only one escape parser directive can be used", 2},
		{"json not strings", "FROM a\nRUN [\"a\", 1]", "when using JSON array syntax, arrays must be comprised of strings only", 2},
		{"env one word", "FROM a\nENV \\\n  ONLY", "ENV must have two arguments", 2},
		{"label without =", "FROM a\nLABEL a=b c", `Syntax error - can't find = in "c". Must be of the form: name=value`, 2},
		{"unterminated heredoc", "FROM a\nRUN <<EOF\nx\n", "unterminated heredoc", 2},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.src))
		if err == nil {
			t.Errorf("%s: no error, want %q", tt.name, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%s: error %q, want %q", tt.name, err, tt.want)
		}
		var le *LocationError
		if !errors.As(err, &le) || len(le.Locations) == 0 || le.Locations[0][0].Start.Line != tt.line {
			t.Errorf("%s: location %+v, want line %d", tt.name, le, tt.line)
		}
	}
}

func TestLongLine(t *testing.T) {
	t.Parallel()
	_, err := Parse(strings.NewReader("FROM a\nRUN " + strings.Repeat("x", 70000)))
	if err == nil || !strings.Contains(err.Error(), "dockerfile line greater than max allowed size of 65535") {
		t.Errorf("error %v", err)
	}
}

func TestWithLocation(t *testing.T) {
	t.Parallel()
	if WithLocation(nil, nil) != nil {
		t.Error("WithLocation(nil) is not nil")
	}
	base := errors.New("boom")
	err := WithLocation(base, []Range{{Start: Position{Line: 2}}})
	err = WithLocation(err, []Range{{Start: Position{Line: 5}}})
	var le *LocationError
	if !errors.As(err, &le) || len(le.Locations) != 2 || err.Error() != "boom" || !errors.Is(err, base) {
		t.Errorf("WithLocation: %v %+v", err, le)
	}
	err = SetLocation(err, []Range{{Start: Position{Line: 7}}})
	if errors.As(err, &le); len(le.Locations) != 1 || le.Locations[0][0].Start.Line != 7 {
		t.Errorf("SetLocation: %+v", le.Locations)
	}
}

func TestDirectives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src              string
		key, first, full string
		ok               bool
	}{
		{"# syntax=docker/dockerfile:1\nFROM a", "syntax", "docker/dockerfile:1", "docker/dockerfile:1", true},
		{"#syntax = img:tag  opt=1  \nFROM a", "syntax", "img:tag", "img:tag  opt=1", true},
		{"#!/usr/bin/env buildctl\n# syntax=x\n", "syntax", "x", "x", true},
		{"// syntax=y\nFROM a", "syntax", "y", "y", true},
		{`{"syntax": "z"}`, "syntax", "z", "z", true},
		{"# escape=`\n# syntax=x", "syntax", "x", "x", true},
		{"# a comment\n# syntax=x", "syntax", "", "", false},
		{"FROM a\n# syntax=x", "syntax", "", "", false},
		{"# check=skip=all\nFROM a", "check", "skip=all", "skip=all", true},
	}
	for _, tt := range tests {
		var first, full string
		var ok bool
		if tt.key == "syntax" {
			first, full, _, ok = DetectSyntax([]byte(tt.src))
		} else {
			first, full, _, ok = ParseDirective(tt.key, []byte(tt.src))
		}
		if first != tt.first || full != tt.full || ok != tt.ok {
			t.Errorf("%q: %q %q %v, want %q %q %v", tt.src, first, full, ok, tt.first, tt.full, tt.ok)
		}
	}
	if _, _, _, ok := ParseDirective("syntax", []byte("// syntax=y")); ok {
		t.Error("ParseDirective accepted a // directive")
	}
	var p DirectiveParser
	dirs, err := p.ParseAll([]byte("# Escape = \\\n#syntax=a\n# other=1\n# check=x"))
	if err != nil || len(dirs) != 2 || dirs[0].Name != "escape" || dirs[1].Value != "a" || dirs[1].Location[0].Start.Line != 2 {
		t.Errorf("ParseAll = %+v, %v", dirs, err)
	}
}
