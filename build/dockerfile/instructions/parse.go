package instructions

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/build/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// instructionNames are the Dockerfile instructions, for "did you mean" suggestions.
var instructionNames = []string{
	"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
	"MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}

// parseRequest is one instruction node, taken apart.
type parseRequest struct {
	command    string
	args       []string
	heredocs   []parser.Heredoc
	attributes map[string]bool
	flags      *BFlags
	original   string
	location   []parser.Range
	comments   []string
}

// nodeArgs returns the arguments of an instruction node; a sub-instruction (ONBUILD's) gives
// its keyword then its arguments.
func nodeArgs(node *parser.Node) []string {
	out := []string{}
	for n := node.Next; n != nil; n = n.Next {
		switch len(n.Children) {
		case 0:
			out = append(out, n.Value)
		case 1:
			out = append(out, n.Children[0].Value)
			out = append(out, nodeArgs(n.Children[0])...)
		}
	}
	return out
}

func newParseRequestFromNode(node *parser.Node) parseRequest {
	return parseRequest{
		command:    node.Value,
		args:       nodeArgs(node),
		heredocs:   node.Heredocs,
		attributes: node.Attributes,
		original:   node.Original,
		flags:      NewBFlagsWithArgs(node.Flags),
		location:   node.Location(),
		comments:   node.PrevComment,
	}
}

// ParseInstruction returns the typed instruction of node: a *Stage for FROM, else a Command.
func ParseInstruction(node *parser.Node) (any, error) {
	return ParseInstructionWithLinter(node, nil)
}

// ParseInstructionWithLinter is ParseInstruction reporting style warnings to lint (which may
// be nil). Errors carry the node's location.
func ParseInstructionWithLinter(node *parser.Node, lint *Linter) (v any, err error) {
	defer func() {
		if err != nil {
			err = parser.WithLocation(err, node.Location())
		}
	}()
	req := newParseRequestFromNode(node)
	switch strings.ToLower(node.Value) {
	case "env":
		return parseEnv(req)
	case "maintainer":
		lint.run(ruleMaintainerDeprecated, node.Location(), "Maintainer instruction is deprecated in favor of using label")
		return parseMaintainer(req)
	case "label":
		return parseLabel(req)
	case "add":
		return parseAdd(req)
	case "copy":
		return parseCopy(req)
	case "from":
		if len(req.args) == 3 && req.args[2] != strings.ToLower(req.args[2]) {
			lint.run(ruleStageNameCasing, node.Location(), "Stage name '%s' should be lowercase", req.args[2])
		}
		if !fromCaseMatchesAsCase(req) {
			lint.run(ruleFromAsCasing, node.Location(), "'%s' and '%s' keywords' casing do not match", req.args[1], req.command)
		}
		return parseFrom(req)
	case "onbuild":
		return parseOnBuild(req)
	case "workdir":
		return parseWorkdir(req)
	case "run":
		return parseRun(req)
	case "cmd":
		return parseCmd(req)
	case "healthcheck":
		return parseHealthcheck(req)
	case "entrypoint":
		return parseEntrypoint(req)
	case "expose":
		return parseExpose(req)
	case "user":
		return parseUser(req)
	case "volume":
		return parseVolume(req)
	case "stopsignal":
		return parseStopSignal(req)
	case "arg":
		return parseArg(req)
	case "shell":
		return parseShell(req)
	}
	return nil, suggestError(&UnknownInstructionError{Instruction: node.Value, Line: node.StartLine}, node.Value, instructionNames, false)
}

// ParseCommand returns the Command of node; FROM is an error.
func ParseCommand(node *parser.Node) (Command, error) {
	s, err := ParseInstruction(node)
	if err != nil {
		return nil, err
	}
	if c, ok := s.(Command); ok {
		return c, nil
	}
	return nil, parser.WithLocation(fmt.Errorf("%T is not a command type", s), node.Location())
}

// UnknownInstructionError is an instruction keyword Docker does not know.
type UnknownInstructionError struct {
	Line        int
	Instruction string
}

func (e *UnknownInstructionError) Error() string {
	return fmt.Sprintf("unknown instruction: %s", e.Instruction)
}

// parseError is an instruction's error with Docker's "dockerfile parse error on line N: ".
type parseError struct {
	inner error
	node  *parser.Node
}

func (e *parseError) Error() string {
	return fmt.Sprintf("dockerfile parse error on line %d: %v", e.node.StartLine, e.inner.Error())
}

func (e *parseError) Unwrap() error { return e.inner }

// Parse returns the build stages of a Dockerfile and the ARGs before its first FROM (the meta
// args). lint, which may be nil, receives style warnings. An instruction's error reads
// "dockerfile parse error on line N: ..."; all errors carry a *parser.LocationError.
func Parse(ast *parser.Node, lint *Linter) (stages []Stage, metaArgs []ArgCommand, err error) {
	for _, n := range ast.Children {
		cmd, err := ParseInstructionWithLinter(n, lint)
		if err != nil {
			return nil, nil, &parseError{inner: err, node: n}
		}
		if len(stages) == 0 {
			if a, ok := cmd.(*ArgCommand); ok {
				metaArgs = append(metaArgs, *a)
				continue
			}
		}
		switch c := cmd.(type) {
		case *Stage:
			stages = append(stages, *c)
		case Command:
			stage, err := CurrentStage(stages)
			if err != nil {
				return nil, nil, parser.WithLocation(err, n.Location())
			}
			stage.AddCommand(c)
		default:
			return nil, nil, parser.WithLocation(fmt.Errorf("%T is not a command type", cmd), n.Location())
		}
	}
	return stages, metaArgs, nil
}

func parseKvps(args []string, cmdName string) (KeyValuePairs, error) {
	if len(args) == 0 {
		return nil, errAtLeastOneArgument(cmdName)
	}
	if len(args)%3 != 0 {
		return nil, fmt.Errorf("Bad input to %s, too many arguments", cmdName)
	}
	var res KeyValuePairs
	for j := 0; j < len(args); j += 3 {
		if args[j] == "" {
			return nil, errBlankCommandNames(cmdName)
		}
		res = append(res, KeyValuePair{Key: args[j], Value: args[j+1], NoDelim: args[j+2] == ""})
	}
	return res, nil
}

func parseEnv(req parseRequest) (*EnvCommand, error) {
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	envs, err := parseKvps(req.args, "ENV")
	if err != nil {
		return nil, err
	}
	return &EnvCommand{Env: envs, withNameAndCode: newWithNameAndCode(req)}, nil
}

func parseMaintainer(req parseRequest) (*MaintainerCommand, error) {
	if len(req.args) != 1 {
		return nil, errExactlyOneArgument("MAINTAINER")
	}
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	return &MaintainerCommand{Maintainer: req.args[0], withNameAndCode: newWithNameAndCode(req)}, nil
}

func parseLabel(req parseRequest) (*LabelCommand, error) {
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	labels, err := parseKvps(req.args, "LABEL")
	if err != nil {
		return nil, err
	}
	return &LabelCommand{Labels: labels, withNameAndCode: newWithNameAndCode(req)}, nil
}

// parseSourcesAndDest splits COPY's and ADD's arguments; heredoc sources become contents.
func parseSourcesAndDest(req parseRequest, command string) (*SourcesAndDest, error) {
	srcs, dest := req.args[:len(req.args)-1], req.args[len(req.args)-1]
	if parser.MustParseHeredoc(dest) != nil {
		return nil, fmt.Errorf("%s cannot accept a heredoc as a destination", command)
	}
	docs := map[string]parser.Heredoc{}
	for _, h := range req.heredocs {
		docs[h.Name] = h
	}
	sd := &SourcesAndDest{DestPath: dest}
	for _, src := range srcs {
		h := parser.MustParseHeredoc(src)
		if h == nil {
			sd.SourcePaths = append(sd.SourcePaths, src)
			continue
		}
		content := docs[h.Name].Content
		if h.Chomp {
			content = parser.ChompHeredocContent(content)
		}
		sd.SourceContents = append(sd.SourceContents, SourceContent{Data: content, Path: h.Name, Expand: h.Expand})
	}
	return sd, nil
}

func parseAdd(req parseRequest) (*AddCommand, error) {
	if len(req.args) < 2 {
		return nil, errNoDestinationArgument("ADD")
	}
	flChown := req.flags.AddString("chown", "")
	flChmod := req.flags.AddString("chmod", "")
	flLink := req.flags.AddBool("link", false)
	flKeepGitDir := req.flags.AddBool("keep-git-dir", false)
	flChecksum := req.flags.AddString("checksum", "")
	flUnpack := req.flags.AddBool("unpack", false)
	flExcludes := req.flags.AddStrings("exclude")
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	sd, err := parseSourcesAndDest(req, "ADD")
	if err != nil {
		return nil, err
	}
	return &AddCommand{
		withNameAndCode: newWithNameAndCode(req),
		SourcesAndDest:  *sd,
		Chown:           flChown.Value,
		Chmod:           flChmod.Value,
		Link:            flLink.Value == "true",
		KeepGitDir:      optionalBool(flKeepGitDir),
		Checksum:        flChecksum.Value,
		ExcludePatterns: flExcludes.StringValues,
		Unpack:          optionalBool(flUnpack),
	}, nil
}

// optionalBool is a boolean flag's value, nil when it was not given.
func optionalBool(f *Flag) *bool {
	if !f.IsUsed() {
		return nil
	}
	b := f.Value == "true"
	return &b
}

func parseCopy(req parseRequest) (*CopyCommand, error) {
	if len(req.args) < 2 {
		return nil, errNoDestinationArgument("COPY")
	}
	flChown := req.flags.AddString("chown", "")
	flFrom := req.flags.AddString("from", "")
	flChmod := req.flags.AddString("chmod", "")
	flLink := req.flags.AddBool("link", false)
	flExcludes := req.flags.AddStrings("exclude")
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	sd, err := parseSourcesAndDest(req, "COPY")
	if err != nil {
		return nil, err
	}
	return &CopyCommand{
		withNameAndCode: newWithNameAndCode(req),
		SourcesAndDest:  *sd,
		From:            flFrom.Value,
		Chown:           flChown.Value,
		Chmod:           flChmod.Value,
		Link:            flLink.Value == "true",
		ExcludePatterns: flExcludes.StringValues,
	}, nil
}

func parseFrom(req parseRequest) (*Stage, error) {
	name, err := parseBuildStageName(req.args)
	if err != nil {
		return nil, err
	}
	flPlatform := req.flags.AddString("platform", "")
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	return &Stage{
		BaseName:   req.args[0],
		OrigCmd:    req.command,
		Name:       name,
		SourceCode: strings.TrimSpace(req.original),
		Commands:   []Command{},
		Platform:   flPlatform.Value,
		Location:   req.location,
		Comment:    getComment(req.comments, name),
	}, nil
}

// validStageName is a stage name: a lower-case letter, then letters, digits, '-', '_', '.'.
func validStageName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && ((c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

func parseBuildStageName(args []string) (string, error) {
	switch {
	case len(args) == 3 && strings.EqualFold(args[1], "as"):
		name := strings.ToLower(args[2])
		if !validStageName(name) {
			return "", fmt.Errorf("invalid name for build stage: %q, name can't start with a number or contain symbols", args[2])
		}
		return name, nil
	case len(args) != 1:
		return "", errors.New("FROM requires either one or three arguments")
	}
	return "", nil
}

func parseOnBuild(req parseRequest) (*OnbuildCommand, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOneArgument("ONBUILD")
	}
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	trigger := strings.ToUpper(strings.TrimSpace(req.args[0]))
	switch trigger {
	case "ONBUILD":
		return nil, errors.New("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
	case "MAINTAINER", "FROM":
		return nil, fmt.Errorf("%s isn't allowed as an ONBUILD trigger", trigger)
	}
	expr := trimOnbuildKeyword(req.original)
	for _, h := range req.heredocs {
		expr += "\n" + h.Content + h.Name
	}
	return &OnbuildCommand{Expression: expr, withNameAndCode: newWithNameAndCode(req)}, nil
}

// trimOnbuildKeyword removes the leading "ONBUILD" (any case) and the blanks around it.
func trimOnbuildKeyword(s string) string {
	isSpace := func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r' }
	t := strings.TrimLeftFunc(s, isSpace)
	if len(t) < len("onbuild") || !strings.EqualFold(t[:len("onbuild")], "onbuild") {
		return s
	}
	return strings.TrimLeftFunc(t[len("onbuild"):], isSpace)
}

func parseWorkdir(req parseRequest) (*WorkdirCommand, error) {
	if len(req.args) != 1 {
		return nil, errExactlyOneArgument("WORKDIR")
	}
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	return &WorkdirCommand{Path: req.args[0], withNameAndCode: newWithNameAndCode(req)}, nil
}

// handleJSONArgs is the exec form as written, or the shell form as one string.
func handleJSONArgs(args []string, attributes map[string]bool) []string {
	if len(args) == 0 {
		return []string{}
	}
	if attributes["json"] {
		return args
	}
	return []string{strings.Join(args, " ")}
}

func parseShellDependentCommand(req parseRequest, emptyAsNil bool) ShellDependantCmdLine {
	var files []ShellInlineFile
	for _, h := range req.heredocs {
		files = append(files, ShellInlineFile{Name: h.Name, Data: h.Content, Chomp: h.Chomp})
	}
	args := handleJSONArgs(req.args, req.attributes)
	if emptyAsNil && len(args) == 0 {
		args = nil
	}
	return ShellDependantCmdLine{CmdLine: args, Files: files, PrependShell: !req.attributes["json"]}
}

func parseRun(req parseRequest) (*RunCommand, error) {
	readRun := addRunFlags(req.flags)
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	run, err := readRun()
	if err != nil {
		return nil, err
	}
	return &RunCommand{
		withNameAndCode:       newWithNameAndCode(req),
		ShellDependantCmdLine: parseShellDependentCommand(req, false),
		FlagsUsed:             req.flags.Used(),
		run:                   run,
	}, nil
}

func parseCmd(req parseRequest) (*CmdCommand, error) {
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	return &CmdCommand{
		ShellDependantCmdLine: parseShellDependentCommand(req, false),
		withNameAndCode:       newWithNameAndCode(req),
	}, nil
}

func parseEntrypoint(req parseRequest) (*EntrypointCommand, error) {
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	return &EntrypointCommand{
		ShellDependantCmdLine: parseShellDependentCommand(req, true),
		withNameAndCode:       newWithNameAndCode(req),
	}, nil
}

// parseOptInterval is the duration of a HEALTHCHECK option, 0 when not given; a non-zero value
// must be at least a millisecond.
func parseOptInterval(f *Flag) (time.Duration, error) {
	if f.Value == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(f.Value)
	if err != nil {
		return 0, err
	}
	if d != 0 && d < time.Millisecond {
		return 0, fmt.Errorf("Interval %#v cannot be less than %s", f.name, time.Millisecond)
	}
	return d, nil
}

func parseHealthcheck(req parseRequest) (*HealthCheckCommand, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOneArgument("HEALTHCHECK")
	}
	cmd := &HealthCheckCommand{withNameAndCode: newWithNameAndCode(req)}
	typ := strings.ToUpper(req.args[0])
	args := req.args[1:]
	if typ == "NONE" {
		if len(args) != 0 {
			return nil, errors.New("HEALTHCHECK NONE takes no arguments")
		}
		cmd.Health = &dockerspec.HealthcheckConfig{Test: []string{typ}}
		return cmd, nil
	}
	flInterval := req.flags.AddString("interval", "")
	flTimeout := req.flags.AddString("timeout", "")
	flStartPeriod := req.flags.AddString("start-period", "")
	flStartInterval := req.flags.AddString("start-interval", "")
	flRetries := req.flags.AddString("retries", "")
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	if typ != "CMD" {
		return nil, fmt.Errorf("Unknown type %#v in HEALTHCHECK (try CMD)", typ)
	}
	test := handleJSONArgs(args, req.attributes)
	if len(test) == 0 {
		return nil, errors.New("Missing command after HEALTHCHECK CMD")
	}
	if !req.attributes["json"] {
		typ = "CMD-SHELL"
	}
	hc := &dockerspec.HealthcheckConfig{Test: append([]string{typ}, test...)}
	for _, o := range []struct {
		f *Flag
		d *time.Duration
	}{{flInterval, &hc.Interval}, {flTimeout, &hc.Timeout}, {flStartPeriod, &hc.StartPeriod}, {flStartInterval, &hc.StartInterval}} {
		d, err := parseOptInterval(o.f)
		if err != nil {
			return nil, err
		}
		*o.d = d
	}
	if flRetries.Value != "" {
		n, err := strconv.ParseInt(flRetries.Value, 10, 32)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("--retries cannot be negative (%d)", n)
		}
		hc.Retries = int(n)
	}
	cmd.Health = hc
	return cmd, nil
}

func parseExpose(req parseRequest) (*ExposeCommand, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOneArgument("EXPOSE")
	}
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	ports := req.args
	slices.Sort(ports)
	return &ExposeCommand{Ports: ports, withNameAndCode: newWithNameAndCode(req)}, nil
}

func parseUser(req parseRequest) (*UserCommand, error) {
	if len(req.args) != 1 {
		return nil, errExactlyOneArgument("USER")
	}
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	return &UserCommand{User: req.args[0], withNameAndCode: newWithNameAndCode(req)}, nil
}

func parseVolume(req parseRequest) (*VolumeCommand, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOneArgument("VOLUME")
	}
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	cmd := &VolumeCommand{withNameAndCode: newWithNameAndCode(req)}
	for _, v := range req.args {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, errors.New("VOLUME specified can not be an empty string")
		}
		cmd.Volumes = append(cmd.Volumes, v)
	}
	return cmd, nil
}

// parseStopSignal reads STOPSIGNAL; like Docker it does not look at flags.
func parseStopSignal(req parseRequest) (*StopSignalCommand, error) {
	if len(req.args) != 1 {
		return nil, errExactlyOneArgument("STOPSIGNAL")
	}
	return &StopSignalCommand{Signal: req.args[0], withNameAndCode: newWithNameAndCode(req)}, nil
}

// parseArg reads ARG name[=default]...; like Docker it does not look at flags.
func parseArg(req parseRequest) (*ArgCommand, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOneArgument("ARG")
	}
	pairs := make([]KeyValuePairOptional, len(req.args))
	for i, arg := range req.args {
		var kv KeyValuePairOptional
		if k, v, ok := strings.Cut(arg, "="); ok {
			if k == "" {
				return nil, errBlankCommandNames("ARG")
			}
			kv.Key, kv.Value = k, &v
		} else {
			kv.Key = arg
		}
		kv.Comment = getComment(req.comments, kv.Key)
		pairs[i] = kv
	}
	return &ArgCommand{Args: pairs, withNameAndCode: newWithNameAndCode(req)}, nil
}

func parseShell(req parseRequest) (*ShellCommand, error) {
	if err := req.flags.Parse(); err != nil {
		return nil, err
	}
	shell := handleJSONArgs(req.args, req.attributes)
	switch {
	case len(shell) == 0:
		return nil, errAtLeastOneArgument("SHELL")
	case req.attributes["json"]:
		return &ShellCommand{Shell: shell, withNameAndCode: newWithNameAndCode(req)}, nil
	default:
		return nil, errors.New("SHELL requires the arguments to be in JSON form")
	}
}

func errAtLeastOneArgument(command string) error {
	return fmt.Errorf("%s requires at least one argument", command)
}

func errExactlyOneArgument(command string) error {
	return fmt.Errorf("%s requires exactly one argument", command)
}

func errNoDestinationArgument(command string) error {
	return fmt.Errorf("%s requires at least two arguments, but only one was provided. Destination could not be determined", command)
}

func errBlankCommandNames(command string) error {
	return fmt.Errorf("%s names can not be blank", command)
}

// getComment returns the description of name in comments ("# name description").
func getComment(comments []string, name string) string {
	if name == "" {
		return ""
	}
	for _, line := range comments {
		if after, ok := strings.CutPrefix(line, name+" "); ok {
			return after
		}
	}
	return ""
}

// fromCaseMatchesAsCase reports whether "AS" is written in the case of "FROM" (when FROM is
// all lower or all upper case).
func fromCaseMatchesAsCase(req parseRequest) bool {
	if len(req.args) < 3 {
		return true
	}
	lower := req.command == strings.ToLower(req.command)
	upper := req.command == strings.ToUpper(req.command)
	switch {
	case lower:
		return req.args[1] == strings.ToLower(req.args[1])
	case upper:
		return req.args[1] == strings.ToUpper(req.args[1])
	}
	return true
}
