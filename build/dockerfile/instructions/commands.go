package instructions

import (
	"errors"
	"strings"

	"github.com/berth-project/berth/build/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// KeyValuePair is a name and its value (ENV, LABEL), in the order written.
type KeyValuePair struct {
	Key   string
	Value string
	// NoDelim is set for the legacy form "ENV name value" (no "=").
	NoDelim bool
}

func (kvp *KeyValuePair) String() string { return kvp.Key + "=" + kvp.Value }

// KeyValuePairs is a list of KeyValuePair.
type KeyValuePairs []KeyValuePair

// KeyValuePairOptional is a name with an optional value (ARG).
type KeyValuePairOptional struct {
	Key     string
	Value   *string // nil: no default
	Comment string  // the "# name description" comment above the instruction, if any
}

func (kvpo *KeyValuePairOptional) String() string { return kvpo.Key + "=" + kvpo.ValueString() }

// ValueString is the value, "" when there is none.
func (kvpo *KeyValuePairOptional) ValueString() string {
	if kvpo.Value == nil {
		return ""
	}
	return *kvpo.Value
}

// Command is an instruction of a stage. The concrete types are the *...Command types of this
// package; their String method returns the instruction as written.
type Command interface {
	Name() string
	Location() []parser.Range
}

// withNameAndCode is what every command has: its keyword, its source and where it is.
type withNameAndCode struct {
	code     string
	name     string
	location []parser.Range
}

// String returns the instruction as written (continuations joined).
func (c *withNameAndCode) String() string { return c.code }

// Name returns the instruction keyword as written.
func (c *withNameAndCode) Name() string { return c.name }

// Location returns the lines of the instruction.
func (c *withNameAndCode) Location() []parser.Range { return c.location }

func newWithNameAndCode(req parseRequest) withNameAndCode {
	return withNameAndCode{code: strings.TrimSpace(req.original), name: req.command, location: req.location}
}

// SingleWordExpander expands the variables of one word.
type SingleWordExpander func(word string) (string, error)

// SupportsSingleWordExpansion is a command whose arguments expand variables word by word.
type SupportsSingleWordExpansion interface {
	Expand(expander SingleWordExpander) error
}

// SupportsSingleWordExpansionRaw is a command with contents (here-documents) that expand with
// quotes and escapes kept.
type SupportsSingleWordExpansionRaw interface {
	ExpandRaw(expander SingleWordExpander) error
}

// PlatformSpecific is a command that only some platforms support.
type PlatformSpecific interface {
	CheckPlatform(platform string) error
}

func expandKvpsInPlace(kvps KeyValuePairs, expander SingleWordExpander) error {
	for i, kvp := range kvps {
		k, err := expander(kvp.Key)
		if err != nil {
			return err
		}
		v, err := expander(kvp.Value)
		if err != nil {
			return err
		}
		kvps[i] = KeyValuePair{Key: k, Value: v, NoDelim: kvp.NoDelim}
	}
	return nil
}

func expandSliceInPlace(values []string, expander SingleWordExpander) error {
	for i, v := range values {
		e, err := expander(v)
		if err != nil {
			return err
		}
		values[i] = e
	}
	return nil
}

// expandInPlace expands each of ps.
func expandInPlace(expander SingleWordExpander, ps ...*string) error {
	for _, p := range ps {
		v, err := expander(*p)
		if err != nil {
			return err
		}
		*p = v
	}
	return nil
}

// EnvCommand is ENV key=value ... (or the legacy ENV key value).
type EnvCommand struct {
	withNameAndCode
	Env KeyValuePairs
}

// Expand expands the names and values.
func (c *EnvCommand) Expand(expander SingleWordExpander) error {
	return expandKvpsInPlace(c.Env, expander)
}

// MaintainerCommand is the deprecated MAINTAINER name.
type MaintainerCommand struct {
	withNameAndCode
	Maintainer string
}

// LabelCommand is LABEL key=value ....
type LabelCommand struct {
	withNameAndCode
	Labels   KeyValuePairs
	noExpand bool
}

// NewLabelCommand returns LABEL k=v, as for a --label of the build; noExp keeps it from
// expanding.
func NewLabelCommand(k string, v string, noExp bool) *LabelCommand {
	kvp := KeyValuePair{Key: k, Value: v}
	return &LabelCommand{
		withNameAndCode: withNameAndCode{code: "LABEL " + kvp.String(), name: "label"},
		Labels:          KeyValuePairs{kvp},
		noExpand:        noExp,
	}
}

// Expand expands the names and values (unless made by NewLabelCommand with noExp).
func (c *LabelCommand) Expand(expander SingleWordExpander) error {
	if c.noExpand {
		return nil
	}
	return expandKvpsInPlace(c.Labels, expander)
}

// SourceContent is a source given inline, as a here-document.
type SourceContent struct {
	Path   string // the heredoc's name, used as the file name
	Data   string // the content
	Expand bool   // whether variables in Data expand
}

// SourcesAndDest are the sources and the destination of COPY and ADD.
type SourcesAndDest struct {
	DestPath       string          // the destination
	SourcePaths    []string        // the sources, paths or URLs
	SourceContents []SourceContent // the here-document sources
}

// Expand expands the source paths and the destination.
func (s *SourcesAndDest) Expand(expander SingleWordExpander) error {
	if err := expandSliceInPlace(s.SourcePaths, expander); err != nil {
		return err
	}
	return expandInPlace(expander, &s.DestPath)
}

// ExpandRaw expands the here-document sources that expand.
func (s *SourcesAndDest) ExpandRaw(expander SingleWordExpander) error {
	for i, c := range s.SourceContents {
		if !c.Expand {
			continue
		}
		if err := expandInPlace(expander, &s.SourceContents[i].Data); err != nil {
			return err
		}
	}
	return nil
}

// AddCommand is ADD [flags] src... dest: COPY that also fetches URLs and unpacks local
// archives.
type AddCommand struct {
	withNameAndCode
	SourcesAndDest
	Chown           string
	Chmod           string
	Link            bool
	ExcludePatterns []string
	KeepGitDir      *bool // --keep-git-dir, nil when not given
	Checksum        string
	Unpack          *bool // --unpack, nil when not given
}

// Expand expands the flags, sources and destination.
func (c *AddCommand) Expand(expander SingleWordExpander) error {
	if err := expandInPlace(expander, &c.Chown, &c.Chmod, &c.Checksum); err != nil {
		return err
	}
	return c.SourcesAndDest.Expand(expander)
}

// CopyCommand is COPY [flags] src... dest.
type CopyCommand struct {
	withNameAndCode
	SourcesAndDest
	From            string // --from: a stage name or index, or an image
	Chown           string
	Chmod           string
	Link            bool
	ExcludePatterns []string
	Parents         bool // --parents (only with the experimental flag enabled: never here)
}

// Expand expands --chown, --chmod, the sources and the destination.
func (c *CopyCommand) Expand(expander SingleWordExpander) error {
	if err := expandInPlace(expander, &c.Chown, &c.Chmod); err != nil {
		return err
	}
	return c.SourcesAndDest.Expand(expander)
}

// OnbuildCommand is ONBUILD instruction.
type OnbuildCommand struct {
	withNameAndCode
	Expression string // the trigger instruction as written
}

// WorkdirCommand is WORKDIR path.
type WorkdirCommand struct {
	withNameAndCode
	Path string
}

// Expand expands the path.
func (c *WorkdirCommand) Expand(expander SingleWordExpander) error {
	return expandInPlace(expander, &c.Path)
}

// ShellInlineFile is a here-document of a RUN.
type ShellInlineFile struct {
	Name  string
	Data  string
	Chomp bool
}

// ShellDependantCmdLine is the command of RUN, CMD and ENTRYPOINT: the exec form as written,
// or the shell form as one string to run with the stage's shell (PrependShell).
type ShellDependantCmdLine struct {
	CmdLine      []string
	Files        []ShellInlineFile
	PrependShell bool
}

// RunCommand is RUN [flags] command.
type RunCommand struct {
	withNameAndCode
	ShellDependantCmdLine
	// FlagsUsed are the names of the flags given (mount, network, security, device), in order.
	FlagsUsed []string
	run       *runFlags
}

// Expand expands the values of --mount.
func (c *RunCommand) Expand(expander SingleWordExpander) error {
	if c.run == nil {
		return nil
	}
	return expandSliceInPlace(c.run.mounts, expander)
}

// CmdCommand is CMD command.
type CmdCommand struct {
	withNameAndCode
	ShellDependantCmdLine
}

// HealthCheckCommand is HEALTHCHECK [options] CMD command, or HEALTHCHECK NONE.
type HealthCheckCommand struct {
	withNameAndCode
	Health *dockerspec.HealthcheckConfig
}

// EntrypointCommand is ENTRYPOINT command.
type EntrypointCommand struct {
	withNameAndCode
	ShellDependantCmdLine
}

// ExposeCommand is EXPOSE port[/proto]....
type ExposeCommand struct {
	withNameAndCode
	Ports []string // sorted
}

// UserCommand is USER user[:group].
type UserCommand struct {
	withNameAndCode
	User string
}

// Expand expands the user.
func (c *UserCommand) Expand(expander SingleWordExpander) error {
	return expandInPlace(expander, &c.User)
}

// VolumeCommand is VOLUME path... (or a JSON array).
type VolumeCommand struct {
	withNameAndCode
	Volumes []string
}

// Expand expands the paths.
func (c *VolumeCommand) Expand(expander SingleWordExpander) error {
	return expandSliceInPlace(c.Volumes, expander)
}

// StopSignalCommand is STOPSIGNAL signal.
type StopSignalCommand struct {
	withNameAndCode
	Signal string
}

// Expand expands the signal.
func (c *StopSignalCommand) Expand(expander SingleWordExpander) error {
	return expandInPlace(expander, &c.Signal)
}

// CheckPlatform rejects Windows, which has no stop signals.
func (c *StopSignalCommand) CheckPlatform(platform string) error {
	if platform == "windows" {
		return errors.New("The daemon on this platform does not support the command stopsignal")
	}
	return nil
}

// ArgCommand is ARG name[=default] ....
type ArgCommand struct {
	withNameAndCode
	Args []KeyValuePairOptional
}

// Expand expands the names and defaults.
func (c *ArgCommand) Expand(expander SingleWordExpander) error {
	for i, a := range c.Args {
		k, err := expander(a.Key)
		if err != nil {
			return err
		}
		a.Key = k
		if a.Value != nil {
			v, err := expander(*a.Value)
			if err != nil {
				return err
			}
			a.Value = &v
		}
		c.Args[i] = a
	}
	return nil
}

// ShellCommand is SHELL ["executable", "parameters"...].
type ShellCommand struct {
	withNameAndCode
	Shell []string
}

// Stage is a build stage: its FROM and the commands after it.
type Stage struct {
	Name     string    // the AS name, lower case; "" when none
	Commands []Command // the instructions of the stage
	OrigCmd  string    // the FROM keyword as written
	BaseName string    // the base: an image, an earlier stage or "scratch" (not expanded)
	Platform string    // --platform (not expanded)

	Comment string // the "# name description" comment above FROM, if any

	SourceCode string         // the FROM instruction as written
	Location   []parser.Range // where it is
}

// AddCommand appends cmd to the stage.
func (s *Stage) AddCommand(cmd Command) {
	s.Commands = append(s.Commands, cmd)
}

// IsCurrentStage reports whether the last of s is named name.
func IsCurrentStage(s []Stage, name string) bool {
	return len(s) > 0 && s[len(s)-1].Name == name
}

// CurrentStage returns the last of s.
func CurrentStage(s []Stage) (*Stage, error) {
	if len(s) == 0 {
		return nil, errors.New("no build stage in current context")
	}
	return &s[len(s)-1], nil
}

// HasStage returns the index of the stage named name (case-insensitive).
func HasStage(s []Stage, name string) (int, bool) {
	for i, st := range s {
		if strings.EqualFold(st.Name, name) {
			return i, true
		}
	}
	return -1, false
}
