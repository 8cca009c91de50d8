package instructions

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/build/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func parse(t *testing.T, src string) ([]Stage, []ArgCommand, error) {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("parser.Parse(%q): %v", src, err)
	}
	return Parse(res.AST, nil)
}

// nc is the name and code of a one-line instruction on line 2 (after "FROM x").
func nc(code string) withNameAndCode {
	name, _, _ := strings.Cut(code, " ")
	return withNameAndCode{code: code, name: name, location: []parser.Range{{Start: parser.Position{Line: 2}, End: parser.Position{Line: 2}}}}
}

func ptr[T any](v T) *T { return &v }

func TestParseCommands(t *testing.T) {
	t.Parallel()
	run := func(code string, cmd ShellDependantCmdLine, flags []string, r *runFlags) *RunCommand {
		if flags == nil {
			flags = []string{}
		}
		return &RunCommand{withNameAndCode: nc(code), ShellDependantCmdLine: cmd, FlagsUsed: flags, run: r}
	}
	defaultRun := &runFlags{network: NetworkDefault}
	tests := []struct {
		line string
		want Command
	}{
		// RUN, CMD, ENTRYPOINT: shell and exec forms.
		{"RUN echo hi  there", run("RUN echo hi  there", ShellDependantCmdLine{CmdLine: []string{"echo hi  there"}, PrependShell: true}, nil, defaultRun)},
		{`RUN ["echo", "hi"]`, run(`RUN ["echo", "hi"]`, ShellDependantCmdLine{CmdLine: []string{"echo", "hi"}}, nil, defaultRun)},
		{"run --network=none --mount=type=cache,target=/c --mount=type=tmpfs,target=/t make",
			run("run --network=none --mount=type=cache,target=/c --mount=type=tmpfs,target=/t make",
				ShellDependantCmdLine{CmdLine: []string{"make"}, PrependShell: true}, []string{"network", "mount"},
				&runFlags{network: NetworkNone, mounts: []string{"type=cache,target=/c", "type=tmpfs,target=/t"}})},
		{"CMD echo hi", &CmdCommand{withNameAndCode: nc("CMD echo hi"), ShellDependantCmdLine: ShellDependantCmdLine{CmdLine: []string{"echo hi"}, PrependShell: true}}},
		{`CMD ["a", "b c"]`, &CmdCommand{withNameAndCode: nc(`CMD ["a", "b c"]`), ShellDependantCmdLine: ShellDependantCmdLine{CmdLine: []string{"a", "b c"}}}},
		{`CMD []`, &CmdCommand{withNameAndCode: nc(`CMD []`), ShellDependantCmdLine: ShellDependantCmdLine{CmdLine: []string{}}}},
		{"CMD", &CmdCommand{withNameAndCode: nc("CMD"), ShellDependantCmdLine: ShellDependantCmdLine{CmdLine: []string{}, PrependShell: true}}},
		{`ENTRYPOINT ["/bin/app"]`, &EntrypointCommand{withNameAndCode: nc(`ENTRYPOINT ["/bin/app"]`), ShellDependantCmdLine: ShellDependantCmdLine{CmdLine: []string{"/bin/app"}}}},
		{"ENTRYPOINT exec app", &EntrypointCommand{withNameAndCode: nc("ENTRYPOINT exec app"), ShellDependantCmdLine: ShellDependantCmdLine{CmdLine: []string{"exec app"}, PrependShell: true}}},
		{"ENTRYPOINT []", &EntrypointCommand{withNameAndCode: nc("ENTRYPOINT []")}},
		{`SHELL ["/bin/bash", "-eo", "pipefail", "-c"]`, &ShellCommand{withNameAndCode: nc(`SHELL ["/bin/bash", "-eo", "pipefail", "-c"]`), Shell: []string{"/bin/bash", "-eo", "pipefail", "-c"}}},
		// ENV and LABEL, both forms.
		{"ENV A 1 2", &EnvCommand{withNameAndCode: nc("ENV A 1 2"), Env: KeyValuePairs{{Key: "A", Value: "1 2", NoDelim: true}}}},
		{`ENV A=1 B="x y" C=`, &EnvCommand{withNameAndCode: nc(`ENV A=1 B="x y" C=`), Env: KeyValuePairs{{Key: "A", Value: "1"}, {Key: "B", Value: `"x y"`}, {Key: "C", Value: ""}}}},
		{`LABEL a=b "c d"="e\"f"`, &LabelCommand{withNameAndCode: nc(`LABEL a=b "c d"="e\"f"`), Labels: KeyValuePairs{{Key: "a", Value: "b"}, {Key: `"c d"`, Value: `"e\"f"`}}}},
		{"LABEL version 1.0", &LabelCommand{withNameAndCode: nc("LABEL version 1.0"), Labels: KeyValuePairs{{Key: "version", Value: "1.0", NoDelim: true}}}},
		{"MAINTAINER me <me@example.com>", &MaintainerCommand{withNameAndCode: nc("MAINTAINER me <me@example.com>"), Maintainer: "me <me@example.com>"}},
		// ARG with and without default.
		{"ARG A B=2 C=", &ArgCommand{withNameAndCode: nc("ARG A B=2 C="), Args: []KeyValuePairOptional{{Key: "A"}, {Key: "B", Value: ptr("2")}, {Key: "C", Value: ptr("")}}}},
		// COPY and ADD.
		{"COPY --from=build --chown=1:2 --chmod=644 a b /dst/", &CopyCommand{withNameAndCode: nc("COPY --from=build --chown=1:2 --chmod=644 a b /dst/"),
			SourcesAndDest: SourcesAndDest{DestPath: "/dst/", SourcePaths: []string{"a", "b"}}, From: "build", Chown: "1:2", Chmod: "644"}},
		{`COPY ["a b", "/c d"]`, &CopyCommand{withNameAndCode: nc(`COPY ["a b", "/c d"]`), SourcesAndDest: SourcesAndDest{DestPath: "/c d", SourcePaths: []string{"a b"}}}},
		{"COPY --link --exclude=*.md --exclude=x . /", &CopyCommand{withNameAndCode: nc("COPY --link --exclude=*.md --exclude=x . /"),
			SourcesAndDest: SourcesAndDest{DestPath: "/", SourcePaths: []string{"."}}, Link: true, ExcludePatterns: []string{"*.md", "x"}}},
		{"ADD --chown=app https://example.com/a.tgz /opt/", &AddCommand{withNameAndCode: nc("ADD --chown=app https://example.com/a.tgz /opt/"),
			SourcesAndDest: SourcesAndDest{DestPath: "/opt/", SourcePaths: []string{"https://example.com/a.tgz"}}, Chown: "app"}},
		{"ADD --keep-git-dir --unpack=false --checksum=sha256:abc x /y", &AddCommand{withNameAndCode: nc("ADD --keep-git-dir --unpack=false --checksum=sha256:abc x /y"),
			SourcesAndDest: SourcesAndDest{DestPath: "/y", SourcePaths: []string{"x"}}, KeepGitDir: ptr(true), Unpack: ptr(false), Checksum: "sha256:abc"}},
		// The rest.
		{"WORKDIR /app", &WorkdirCommand{withNameAndCode: nc("WORKDIR /app"), Path: "/app"}},
		{"USER app:app", &UserCommand{withNameAndCode: nc("USER app:app"), User: "app:app"}},
		{"VOLUME /a /b", &VolumeCommand{withNameAndCode: nc("VOLUME /a /b"), Volumes: []string{"/a", "/b"}}},
		{`VOLUME ["/data"]`, &VolumeCommand{withNameAndCode: nc(`VOLUME ["/data"]`), Volumes: []string{"/data"}}},
		{"STOPSIGNAL SIGTERM", &StopSignalCommand{withNameAndCode: nc("STOPSIGNAL SIGTERM"), Signal: "SIGTERM"}},
		{"EXPOSE 8080 80/udp 443", &ExposeCommand{withNameAndCode: nc("EXPOSE 8080 80/udp 443"), Ports: []string{"443", "80/udp", "8080"}}},
		{"ONBUILD RUN make", &OnbuildCommand{withNameAndCode: nc("ONBUILD RUN make"), Expression: "RUN make"}},
		{"onbuild   copy --from=a x y", &OnbuildCommand{withNameAndCode: nc("onbuild   copy --from=a x y"), Expression: "copy --from=a x y"}},
		// HEALTHCHECK.
		{"HEALTHCHECK NONE", &HealthCheckCommand{withNameAndCode: nc("HEALTHCHECK NONE"), Health: &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}}},
		{"HEALTHCHECK --interval=5s --timeout=3s --start-period=1m --start-interval=2s --retries=4 CMD curl -f localhost",
			&HealthCheckCommand{withNameAndCode: nc("HEALTHCHECK --interval=5s --timeout=3s --start-period=1m --start-interval=2s --retries=4 CMD curl -f localhost"),
				Health: &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "curl -f localhost"}, Interval: 5 * time.Second, Timeout: 3 * time.Second,
					StartPeriod: time.Minute, StartInterval: 2 * time.Second, Retries: 4}}},
		{`HEALTHCHECK cmd ["/check", "-v"]`, &HealthCheckCommand{withNameAndCode: nc(`HEALTHCHECK cmd ["/check", "-v"]`),
			Health: &dockerspec.HealthcheckConfig{Test: []string{"CMD", "/check", "-v"}}}},
	}
	for _, tt := range tests {
		stages, _, err := parse(t, "FROM x\n"+tt.line)
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		if len(stages) != 1 || len(stages[0].Commands) != 1 {
			t.Errorf("%q: %d stages", tt.line, len(stages))
			continue
		}
		got := stages[0].Commands[0]
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tt.line, got, tt.want)
		}
		if s := got.(interface{ String() string }).String(); s != tt.line {
			t.Errorf("%q: String() = %q", tt.line, s)
		}
	}
}

func TestParseStages(t *testing.T) {
	t.Parallel()
	src := "ARG BASE=alpine\nARG V\n# build compiles\nFROM --platform=$BUILDPLATFORM golang AS Build\nARG X\nRUN make\n\nfrom ${BASE}:${V}\nCOPY --from=build /out /bin/\n"
	stages, meta, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta) != 2 || meta[0].Args[0].Key != "BASE" || *meta[0].Args[0].Value != "alpine" || meta[1].Args[0].Value != nil {
		t.Errorf("meta args %+v", meta)
	}
	if meta[0].String() != "ARG BASE=alpine" {
		t.Errorf("meta String() = %q", meta[0].String())
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages", len(stages))
	}
	s0 := stages[0]
	want0 := Stage{Name: "build", OrigCmd: "FROM", BaseName: "golang", Platform: "$BUILDPLATFORM", Comment: "compiles",
		SourceCode: "FROM --platform=$BUILDPLATFORM golang AS Build", Location: []parser.Range{{Start: parser.Position{Line: 4}, End: parser.Position{Line: 4}}}}
	s0.Commands = nil
	if !reflect.DeepEqual(s0, want0) {
		t.Errorf("stage 0 = %+v\nwant %+v", s0, want0)
	}
	if len(stages[0].Commands) != 2 || len(stages[1].Commands) != 1 {
		t.Errorf("commands: %d, %d", len(stages[0].Commands), len(stages[1].Commands))
	}
	if _, ok := stages[0].Commands[0].(*ArgCommand); !ok {
		t.Errorf("ARG after FROM is %T", stages[0].Commands[0])
	}
	if stages[1].Name != "" || stages[1].BaseName != "${BASE}:${V}" || stages[1].OrigCmd != "from" {
		t.Errorf("stage 1 %+v", stages[1])
	}
	if i, ok := HasStage(stages, "BUILD"); !ok || i != 0 {
		t.Errorf("HasStage(BUILD) = %d, %v", i, ok)
	}
	if _, ok := HasStage(stages, "nope"); ok {
		t.Error("HasStage(nope)")
	}
	if !IsCurrentStage(stages, "") || IsCurrentStage(stages, "build") || IsCurrentStage(nil, "") {
		t.Error("IsCurrentStage")
	}
	cur, err := CurrentStage(stages)
	if err != nil || cur != &stages[1] {
		t.Errorf("CurrentStage = %p, %v", cur, err)
	}
	cur.AddCommand(NewLabelCommand("k", "$v", true))
	l := stages[1].Commands[1].(*LabelCommand)
	if l.String() != "LABEL k=$v" || l.Name() != "label" {
		t.Errorf("NewLabelCommand: %q %q", l.String(), l.Name())
	}
	if err := l.Expand(func(string) (string, error) { return "expanded", nil }); err != nil || l.Labels[0].Value != "$v" {
		t.Errorf("a NewLabelCommand with noExp expanded: %+v", l.Labels)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	src := "FROM x\nENV $K=$V\nLABEL $K=$V\nARG $K=$V $K\nCOPY --chown=$V --chmod=$V $K /$V\nADD --chown=$V --checksum=$V $K /$V\n" +
		"WORKDIR /$V\nUSER $V\nVOLUME /$V\nSTOPSIGNAL $V\nRUN --mount=target=/$V echo $V\nCMD $V\n"
	stages, _, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	ex := func(w string) (string, error) {
		return strings.NewReplacer("$K", "key", "$V", "val").Replace(w), nil
	}
	for _, c := range stages[0].Commands {
		if e, ok := c.(SupportsSingleWordExpansion); ok {
			if err := e.Expand(ex); err != nil {
				t.Fatal(err)
			}
		}
	}
	cs := stages[0].Commands
	checks := []struct {
		got, want any
	}{
		{cs[0].(*EnvCommand).Env, KeyValuePairs{{Key: "key", Value: "val"}}},
		{cs[1].(*LabelCommand).Labels, KeyValuePairs{{Key: "key", Value: "val"}}},
		{cs[2].(*ArgCommand).Args, []KeyValuePairOptional{{Key: "key", Value: ptr("val")}, {Key: "key"}}},
		{*cs[3].(*CopyCommand), CopyCommand{withNameAndCode: cs[3].(*CopyCommand).withNameAndCode, Chown: "val", Chmod: "val", SourcesAndDest: SourcesAndDest{SourcePaths: []string{"key"}, DestPath: "/val"}}},
		{*cs[4].(*AddCommand), AddCommand{withNameAndCode: cs[4].(*AddCommand).withNameAndCode, Chown: "val", Checksum: "val", SourcesAndDest: SourcesAndDest{SourcePaths: []string{"key"}, DestPath: "/val"}}},
		{cs[5].(*WorkdirCommand).Path, "/val"},
		{cs[6].(*UserCommand).User, "val"},
		{cs[7].(*VolumeCommand).Volumes, []string{"/val"}},
		{cs[8].(*StopSignalCommand).Signal, "val"},
		{GetMountSpecs(cs[9].(*RunCommand)), []string{"target=/val"}},
		{cs[9].(*RunCommand).CmdLine, []string{"echo $V"}}, // RUN's command is the shell's to expand
		{cs[10].(*CmdCommand).CmdLine, []string{"$V"}},
	}
	for i, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("check %d: got %+v, want %+v", i, c.got, c.want)
		}
	}
	if _, ok := cs[10].(SupportsSingleWordExpansion); ok {
		t.Error("CMD supports expansion")
	}
	boom := errors.New("boom")
	if err := cs[0].(*EnvCommand).Expand(func(string) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("Expand error %v", err)
	}
}

func TestHeredocCommands(t *testing.T) {
	t.Parallel()
	src := "FROM x\nRUN <<EOF\necho hi\nEOF\nCOPY <<-'A' <<B /dst/\n\ta $x\n\tA\nb $x\nB\nONBUILD RUN <<X\nx\nX\n"
	stages, _, err := parse(t, src)
	if err != nil {
		t.Fatal(err)
	}
	cs := stages[0].Commands
	r := cs[0].(*RunCommand)
	if !reflect.DeepEqual(r.Files, []ShellInlineFile{{Name: "EOF", Data: "echo hi\n"}}) || !reflect.DeepEqual(r.CmdLine, []string{"<<EOF"}) {
		t.Errorf("RUN heredoc: %+v", r.ShellDependantCmdLine)
	}
	c := cs[1].(*CopyCommand)
	want := []SourceContent{{Path: "A", Data: "a $x\n"}, {Path: "B", Data: "b $x\n", Expand: true}}
	if !reflect.DeepEqual(c.SourceContents, want) || len(c.SourcePaths) != 0 || c.DestPath != "/dst/" {
		t.Errorf("COPY heredoc: %+v", c.SourcesAndDest)
	}
	if err := c.ExpandRaw(func(w string) (string, error) { return strings.ReplaceAll(w, "$x", "X"), nil }); err != nil {
		t.Fatal(err)
	}
	if c.SourceContents[0].Data != "a $x\n" || c.SourceContents[1].Data != "b X\n" {
		t.Errorf("ExpandRaw: %+v", c.SourceContents)
	}
	if o := cs[2].(*OnbuildCommand); o.Expression != "RUN <<X\nx\nX" {
		t.Errorf("ONBUILD heredoc expression %q", o.Expression)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src, want string
		line      int
	}{
		{"FROM a\nFOOBAR bar", "dockerfile parse error on line 2: unknown instruction: FOOBAR", 2},
		{"FROM a\nFORM b", "dockerfile parse error on line 2: unknown instruction: FORM (did you mean FROM?)", 2},
		{"FROM a\nrum b", "dockerfile parse error on line 2: unknown instruction: rum (did you mean run?)", 2},
		{"RUN a", "no build stage in current context", 1},
		{"ARG A\nENV B=1\nFROM a", "no build stage in current context", 2},
		{"FROM a b", "dockerfile parse error on line 1: FROM requires either one or three arguments", 1},
		{"FROM a AS 1st", `dockerfile parse error on line 1: invalid name for build stage: "1st", name can't start with a number or contain symbols`, 1},
		{"FROM a AS b$", `dockerfile parse error on line 1: invalid name for build stage: "b$", name can't start with a number or contain symbols`, 1},
		{"FROM --platfor=x a", "dockerfile parse error on line 1: unknown flag: --platfor (did you mean platform?)", 1},
		{"FROM --plat=x a", "dockerfile parse error on line 1: unknown flag: --plat", 1},
		{"FROM a\n\nENV =x", "dockerfile parse error on line 3: ENV names can not be blank", 3},
		{"FROM a\nENV", "dockerfile parse error on line 2: ENV requires at least one argument", 2},
		{"FROM a\nLABEL", "dockerfile parse error on line 2: LABEL requires at least one argument", 2},
		{"FROM a\nARG", "dockerfile parse error on line 2: ARG requires at least one argument", 2},
		{"FROM a\nARG =x", "dockerfile parse error on line 2: ARG names can not be blank", 2},
		{"FROM a\nMAINTAINER", "dockerfile parse error on line 2: MAINTAINER requires exactly one argument", 2},
		{"FROM a\nWORKDIR", "dockerfile parse error on line 2: WORKDIR requires exactly one argument", 2},
		{"FROM a\nUSER", "dockerfile parse error on line 2: USER requires exactly one argument", 2},
		{"FROM a\nSTOPSIGNAL", "dockerfile parse error on line 2: STOPSIGNAL requires exactly one argument", 2},
		{"FROM a\nEXPOSE", "dockerfile parse error on line 2: EXPOSE requires at least one argument", 2},
		{"FROM a\nVOLUME", "dockerfile parse error on line 2: VOLUME requires at least one argument", 2},
		{`FROM a` + "\n" + `VOLUME [""]`, "dockerfile parse error on line 2: VOLUME specified can not be an empty string", 2},
		{"FROM a\nCOPY x", "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined", 2},
		{"FROM a\nADD x", "dockerfile parse error on line 2: ADD requires at least two arguments, but only one was provided. Destination could not be determined", 2},
		{"FROM a\nCOPY x <<EOF\nEOF", "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination", 2},
		{"FROM a\nCOPY --chown x y", "dockerfile parse error on line 2: missing a value on flag: --chown", 2},
		{"FROM a\nCOPY --link=maybe x y", "dockerfile parse error on line 2: expecting boolean value for flag --link, not: maybe", 2},
		{"FROM a\nCOPY --link= x y", "dockerfile parse error on line 2: missing a value on flag: --link", 2},
		{"FROM a\nCOPY --from=a --from=b x y", "dockerfile parse error on line 2: duplicate flag specified: --from", 2},
		{"FROM a\nCOPY --parents x y", "dockerfile parse error on line 2: unknown flag: --parents", 2},
		{"FROM a\nRUN --network=bridge x", `dockerfile parse error on line 2: invalid network mode "bridge"`, 2},
		{"FROM a\nRUN --security=insecure x", "dockerfile parse error on line 2: unknown flag: --security", 2},
		{"FROM a\nSHELL /bin/sh -c", "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form", 2},
		{"FROM a\nSHELL []", "dockerfile parse error on line 2: SHELL requires at least one argument", 2},
		{"FROM a\nONBUILD", "dockerfile parse error on line 2: ONBUILD requires at least one argument", 2},
		{"FROM a\nONBUILD ONBUILD RUN x", "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", 2},
		{"FROM a\nONBUILD FROM b", "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger", 2},
		{"FROM a\nONBUILD maintainer b", "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger", 2},
		{"FROM a\nHEALTHCHECK", "dockerfile parse error on line 2: HEALTHCHECK requires at least one argument", 2},
		{"FROM a\nHEALTHCHECK NONE x", "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments", 2},
		{"FROM a\nHEALTHCHECK CMD", "dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD", 2},
		{"FROM a\nHEALTHCHECK RUN x", `dockerfile parse error on line 2: Unknown type "RUN" in HEALTHCHECK (try CMD)`, 2},
		{"FROM a\nHEALTHCHECK --interval=1ns CMD x", `dockerfile parse error on line 2: Interval "interval" cannot be less than 1ms`, 2},
		{"FROM a\nHEALTHCHECK --timeout=soon CMD x", `dockerfile parse error on line 2: time: invalid duration "soon"`, 2},
		{"FROM a\nHEALTHCHECK --retries=-1 CMD x", "dockerfile parse error on line 2: --retries cannot be negative (-1)", 2},
		{"FROM a\nHEALTHCHECK --retries=x CMD x", `dockerfile parse error on line 2: strconv.ParseInt: parsing "x": invalid syntax`, 2},
		{"FROM a\nRUN a \\\n  b\nBAD", "dockerfile parse error on line 4: unknown instruction: BAD (did you mean ADD?)", 4},
	}
	for _, tt := range tests {
		_, _, err := parse(t, tt.src)
		if err == nil {
			t.Errorf("%q: no error, want %q", tt.src, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%q: error\n %q\nwant\n %q", tt.src, err, tt.want)
		}
		var le *parser.LocationError
		if !errors.As(err, &le) || le.Locations[0][0].Start.Line != tt.line {
			t.Errorf("%q: location %+v, want line %d", tt.src, le, tt.line)
		}
	}
	var ue *UnknownInstructionError
	_, _, err := parse(t, "FROM a\nFOO")
	if !errors.As(err, &ue) || ue.Instruction != "FOO" || ue.Line != 2 {
		t.Errorf("UnknownInstructionError: %+v", ue)
	}
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	res, err := parser.Parse(strings.NewReader("RUN echo hi\nFROM x\nBAD"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCommand(res.AST.Children[0])
	if err != nil || c.Name() != "RUN" || c.(*RunCommand).CmdLine[0] != "echo hi" {
		t.Errorf("ParseCommand(RUN) = %v, %v", c, err)
	}
	if _, err := ParseCommand(res.AST.Children[1]); err == nil || err.Error() != "*instructions.Stage is not a command type" {
		t.Errorf("ParseCommand(FROM) error %v", err)
	}
	if _, err := ParseCommand(res.AST.Children[2]); err == nil || err.Error() != "unknown instruction: BAD (did you mean ADD?)" {
		t.Errorf("ParseCommand(BAD) error %v", err)
	}
	v, err := ParseInstruction(res.AST.Children[1])
	if s, ok := v.(*Stage); err != nil || !ok || s.BaseName != "x" {
		t.Errorf("ParseInstruction(FROM) = %v, %v", v, err)
	}
}

func TestLinter(t *testing.T) {
	t.Parallel()
	res, err := parser.Parse(strings.NewReader("FROM a as Build\nMAINTAINER me\nfrom b AS c\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	lint := &Linter{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		got = append(got, rule+": "+msg)
	}}
	if _, _, err := Parse(res.AST, lint); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"StageNameCasing: Stage name 'Build' should be lowercase",
		"FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
		"MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label",
		"FromAsCasing: 'AS' and 'from' keywords' casing do not match",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
	got = nil
	lint.SkipRules = []string{"FromAsCasing", "StageNameCasing"}
	if _, _, err := Parse(res.AST, lint); err != nil || len(got) != 1 {
		t.Errorf("with SkipRules: %q, %v", got, err)
	}
}

func TestBFlags(t *testing.T) {
	t.Parallel()
	bf := NewBFlagsWithArgs([]string{"--s=v", "--b", "--m=1", "--m=2", "--", "--ignored"})
	s := bf.AddString("s", "def")
	b := bf.AddBool("b", false)
	m := bf.AddStrings("m")
	unused := bf.AddBool("u", true)
	if err := bf.Parse(); err != nil {
		t.Fatal(err)
	}
	if s.Value != "v" || !b.IsTrue() || !reflect.DeepEqual(m.StringValues, []string{"1", "2"}) || !unused.IsTrue() || unused.IsUsed() || !s.IsUsed() {
		t.Errorf("values %q %q %q %q", s.Value, b.Value, m.StringValues, unused.Value)
	}
	if got := bf.Used(); !reflect.DeepEqual(got, []string{"s", "b", "m"}) {
		t.Errorf("Used() = %q", got)
	}
	dup := NewBFlags()
	dup.AddString("x", "")
	if dup.AddBool("x", false) != nil {
		t.Error("duplicate flag declared")
	}
	if err := dup.Parse(); err == nil || err.Error() != "error setting up flags: Duplicate flag defined: x" {
		t.Errorf("Parse error %v", err)
	}
	if err := NewBFlagsWithArgs([]string{"x"}).Parse(); err == nil || err.Error() != "arg should start with -- : x" {
		t.Errorf("Parse error %v", err)
	}
}
