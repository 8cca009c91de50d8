package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-project/berth/build/dockerfile/instructions"
	"github.com/berth-project/berth/build/dockerfile/shell"
	"github.com/berth-project/berth/internal/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// describe renders a parsed Dockerfile's commands compactly for comparisons.
func describe(df *Dockerfile) []string {
	var out []string
	for _, a := range df.MetaArgs {
		out = append(out, "META "+a.String())
	}
	for _, s := range df.Stages {
		out = append(out, fmt.Sprintf("FROM %s AS %q", s.BaseName, s.Name))
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.RunCommand:
				out = append(out, fmt.Sprintf("RUN shell=%v %q", c.PrependShell, c.CmdLine))
			case *instructions.CmdCommand:
				out = append(out, fmt.Sprintf("CMD shell=%v %q", c.PrependShell, c.CmdLine))
			case *instructions.EntrypointCommand:
				out = append(out, fmt.Sprintf("ENTRYPOINT shell=%v %q", c.PrependShell, c.CmdLine))
			case *instructions.EnvCommand:
				var kv []string
				for _, e := range c.Env {
					kv = append(kv, e.String())
				}
				out = append(out, fmt.Sprintf("ENV %q", kv))
			case *instructions.CopyCommand:
				out = append(out, fmt.Sprintf("COPY from=%q chown=%q %q -> %q", c.From, c.Chown, c.SourcePaths, c.DestPath))
			default:
				out = append(out, c.Name())
			}
		}
	}
	return out
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		escape   rune
	}{
		{"shell and exec forms", "FROM busybox\nRUN echo hi\nRUN [\"echo\", \"hi\"]\nCMD [\"ls\",\"-a\"]\nENTRYPOINT ls -a\n",
			[]string{`FROM busybox AS ""`, `RUN shell=true ["echo hi"]`, `RUN shell=false ["echo" "hi"]`, `CMD shell=false ["ls" "-a"]`, `ENTRYPOINT shell=true ["ls -a"]`}, '\\'},
		{"bad JSON is the shell form", "FROM x\nCMD [\"ls\", -a]\n",
			[]string{`FROM x AS ""`, `CMD shell=true ["[\"ls\", -a]"]`}, '\\'},
		{"continuations and comments", "FROM x\nRUN echo a \\\n# a comment inside\n  b \\\n  c\n",
			[]string{`FROM x AS ""`, `RUN shell=true ["echo a   b   c"]`}, '\\'},
		{"escape directive", "# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n",
			[]string{`FROM x AS ""`, `RUN shell=true ["dir c:\\   && echo"]`}, '`'},
		{"case-insensitive keywords", "from x as Build\nrun true\n",
			[]string{`FROM x AS "build"`, `RUN shell=true ["true"]`}, '\\'},
		{"ENV forms", "FROM x\nENV A b c\nENV B=1 C=\"two words\" D=three\\ words\n",
			[]string{`FROM x AS ""`, `ENV ["A=b c"]`, `ENV ["B=1" "C=\"two words\"" "D=three\\ words"]`}, '\\'},
		{"meta args and stages", "ARG V=1\nFROM a:$V AS one\nFROM one\nCOPY --from=one --chown=1:2 a b /d/\n",
			[]string{`META ARG V=1`, `FROM a:$V AS "one"`, `FROM one AS ""`, `COPY from="one" chown="1:2" ["a" "b"] -> "/d/"`}, '\\'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			df, err := Parse(strings.NewReader(tc.in), "Dockerfile")
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(df); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if df.Escape != tc.escape {
				t.Errorf("escape %q, want %q", df.Escape, tc.escape)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"FROM x\nFOO bar\n", "dockerfile parse error on line 2: unknown instruction: FOO"},
		{"\n\nRUN true\n", "dockerfile parse error on line 3: no build stage in current context"},
		{"", "the Dockerfile (Dockerfile) cannot be empty"},
		{"# only a comment\n", "file with no instructions"},
		{"FROM x\nCOPY onlyone\n", "dockerfile parse error on line 2: COPY requires at least two arguments"},
		{"FROM x\nENV\n", "dockerfile parse error on line 2: ENV requires at least one argument"},
		{"FROM x\n\nEXPOSE\n", "dockerfile parse error on line 3: EXPOSE requires at least one argument"},
		{"FROM x AS\n", "dockerfile parse error on line 1: FROM requires either one or three arguments"},
	} {
		_, err := Parse(strings.NewReader(tc.in), "Dockerfile")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Parse(%q): %v is not ErrInvalid", tc.in, err)
		}
	}
}

// Variables are substituted where Docker substitutes them, with the shell's forms.
func TestExpand(t *testing.T) {
	envs := shell.EnvsFromSlice([]string{"A=a", "EMPTY=", "DIR=/usr/local", "SPACE=x y"})
	for _, tc := range []struct{ in, want string }{
		{"WORKDIR $DIR/app", "/usr/local/app"},
		{"WORKDIR ${DIR}/app", "/usr/local/app"},
		{"WORKDIR ${UNSET:-/default}", "/default"},
		{"WORKDIR ${EMPTY:-/empty}", "/empty"},
		{"WORKDIR /x${A:+/set}", "/x/set"},
		{"WORKDIR /x${UNSET:+/set}", "/x"},
		{"WORKDIR '/$A'", "/$A"},
		{"WORKDIR \\$A", "$A"},
	} {
		df, err := Parse(strings.NewReader("FROM x\n"+tc.in+"\n"), "Dockerfile")
		if err != nil {
			t.Fatal(err)
		}
		c := df.Stages[0].Commands[0].(*instructions.WorkdirCommand)
		if err := expand(shell.NewLex(df.Escape), c, envs); err != nil {
			t.Fatal(err)
		}
		if c.Path != tc.want {
			t.Errorf("%s: %q, want %q", tc.in, c.Path, tc.want)
		}
	}
	// ENV values lose their quotes and escapes when substituted.
	df, _ := Parse(strings.NewReader("FROM x\nENV B=$A C=\"two words\" D=three\\ words\n"), "Dockerfile")
	env := df.Stages[0].Commands[0].(*instructions.EnvCommand)
	if err := expand(shell.NewLex('\\'), env, envs); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(env.Env); got != "[{B a false} {C two words false} {D three words false}]" {
		t.Errorf("ENV expanded: %s", got)
	}
	// RUN and CMD are left to the shell.
	df, _ = Parse(strings.NewReader("FROM x\nRUN echo $A\n"), "Dockerfile")
	run := df.Stages[0].Commands[0].(*instructions.RunCommand)
	if err := expand(shell.NewLex('\\'), run, envs); err != nil || run.CmdLine[0] != "echo $A" {
		t.Errorf("RUN expanded: %q %v", run.CmdLine, err)
	}
}

func TestBuildArgs(t *testing.T) {
	v := func(s string) *string { return &s }
	a := newBuildArgs(map[string]*string{"V": v("cli"), "UNUSED": v("x"), "http_proxy": v("p"), "NOVAL": nil})
	a.addArg("BASE", v("img"))
	a.addMeta("BASE", v("img"))
	st := a.forStage()
	st.addArg("V", v("default"))
	st.addArg("D", v("d"))
	st.addArg("BASE", nil) // takes the meta arg's value
	st.addArg("NOVAL", nil)
	if got, want := st.env([]string{"D=from-env"}), []string{"BASE=img", "V=cli", "http_proxy=p"}; !reflect.DeepEqual(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
	if st.inHistory("http_proxy") || !st.inHistory("V") {
		t.Error("builtin proxy args are left out of the history, declared ones kept")
	}
	a.merge(st)
	if got := a.unused(); !reflect.DeepEqual(got, []string{"UNUSED"}) {
		t.Errorf("unused = %q", got)
	}
}

func TestNormalizeWorkdirAndCmdLine(t *testing.T) {
	for _, tc := range []struct{ cur, req, want string }{
		{"", "/a", "/a"}, {"/a", "b", "/a/b"}, {"/a", "../c/./d", "/c/d"}, {"", "rel", "/rel"}, {"/a", "/b/", "/b"},
	} {
		if got, _ := normalizeWorkdir(tc.cur, tc.req); got != tc.want {
			t.Errorf("normalizeWorkdir(%q, %q) = %q, want %q", tc.cur, tc.req, got, tc.want)
		}
	}
	shellForm := instructions.ShellDependantCmdLine{CmdLine: []string{"echo hi"}, PrependShell: true}
	if got := resolveCmdLine(shellForm, v1.Config{}); !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "echo hi"}) {
		t.Errorf("shell form: %q", got)
	}
	if got := resolveCmdLine(shellForm, v1.Config{Shell: []string{"bash", "-ec"}}); !reflect.DeepEqual(got, []string{"bash", "-ec", "echo hi"}) {
		t.Errorf("SHELL: %q", got)
	}
	exec := instructions.ShellDependantCmdLine{CmdLine: []string{"ls", "-a"}}
	if got := resolveCmdLine(exec, v1.Config{}); !reflect.DeepEqual(got, []string{"ls", "-a"}) {
		t.Errorf("exec form: %q", got)
	}
}

func TestContextIgnoreAndSize(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		".dockerignore": "# comment\n*.log\nsecret/\n!keep.log\nsub/**/*.tmp\n",
		"a.txt":         "a",
		"b.log":         "b",
		"keep.log":      "k",
		"secret/s":      "s",
		"sub/x/y.tmp":   "t",
		"sub/x/y.txt":   "t",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	c, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{
		"a.txt": false, "b.log": true, "keep.log": false, "secret": true, "secret/s": true,
		"sub/x/y.tmp": true, "sub/x/y.txt": false, ".dockerignore": false,
	} {
		if got := c.Excluded(rel); got != want {
			t.Errorf("Excluded(%q) = %v, want %v", rel, got, want)
		}
	}
	// Headers of .dockerignore, a.txt, keep.log, sub/, sub/x/, sub/x/y.txt (6 x 512), their
	// contents but the folders' (4 x 512) and the end (1024).
	if c.Size != 6*512+4*512+1024 {
		t.Errorf("Size = %d", c.Size)
	}
	if _, err := OpenDir(filepath.Join(dir, "a.txt")); err == nil {
		t.Error("a file opened as a context")
	}
}

func TestParseChown(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc", "group"), []byte("root:x:0:\nstaff:x:50:\napp:x:1001:\n"), 0o644)
	for _, tc := range []struct {
		in   string
		want identity
		err  bool
	}{
		{in: "1:2", want: identity{1, 2}},
		{in: "55", want: identity{55, 55}},
		{in: "app:staff", want: identity{1000, 50}},
		{in: "root", want: identity{0, 0}},
		{in: "nobody", err: true},
		{in: "a:b:c", err: true},
	} {
		got, err := parseChown(root, tc.in)
		if (err != nil) != tc.err || (err == nil && *got != tc.want) {
			t.Errorf("parseChown(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestIsTarAndWildcards(t *testing.T) {
	if isTar([]byte("FROM busybox\n")) || isTar(make([]byte, 512)) {
		t.Error("not tars taken for tars")
	}
	for in, want := range map[string]bool{"*.txt": true, "a?": true, "[ab]": true, `a\*`: false, "plain/path": false} {
		if containsWildcards(in) != want {
			t.Errorf("containsWildcards(%q) != %v", in, want)
		}
	}
}
