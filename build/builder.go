package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-project/berth/build/dockerfile/instructions"
	"github.com/berth-project/berth/build/dockerfile/parser"
	"github.com/berth-project/berth/build/dockerfile/shell"
	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/runtime"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Builder builds images with one store's images and containers.
type Builder struct {
	Images  *image.Store
	Runtime *runtime.Runtime
}

// Options are a build's inputs (docker build's flags).
type Options struct {
	// Context is the build context; Dockerfile the Dockerfile's contents and DockerfileName how
	// messages call it.
	Context        *Context
	Dockerfile     []byte
	DockerfileName string
	// Tags are the name[:tag] references to point at the result.
	Tags []string
	// BuildArgs are the --build-arg values (a nil value: KEY given alone and unset).
	BuildArgs map[string]*string
	// Labels are added to the last stage (--label).
	Labels map[string]string
	// Target builds up to the stage of that name (--target).
	Target string
	// NetworkMode is the network of RUN containers: "" or "default" (bridge), "bridge",
	// "none", "host".
	NetworkMode string
	// Remove removes a step's containers once the step succeeded (--rm); ForceRemove also when
	// it failed (--force-rm).
	Remove, ForceRemove bool
	// Pull pulls the images of FROM even when they are stored (--pull).
	Pull bool
	// NoCache runs every step, never reusing the image an earlier build made (--no-cache).
	NoCache bool
	// Out receives the build's progress and the output of RUN (nil: discarded).
	Out io.Writer
}

// StepError is a RUN step whose command failed: Docker's message, and its exit code, which
// docker build exits with.
type StepError struct {
	Code int
	Msg  string
}

func (e *StepError) Error() string { return e.Msg }

// Result is a finished build.
type Result struct {
	// Image is the built image; Tags the references pointed at it, as Docker prints them.
	Image *image.Image
	Tags  []string
}

// stageState is what the instructions of one stage change: Docker's dispatchState.
type stageState struct {
	name       string
	image      *image.Image // nil: scratch
	cfg        v1.Config
	maintainer string
	cmdSet     bool
	args       *buildArgs
}

func (s *stageState) imageID() string {
	if s.image == nil {
		return ""
	}
	return s.image.ID
}

// build is one build in progress.
type build struct {
	b      *Builder
	opts   Options
	out    io.Writer
	shlex  *shell.Lex
	stages []*stageState // finished stages, in order
	// containers are the intermediate containers of the step in progress.
	containers []string
	// pulled are the images pulled for FROM or COPY --from in this build (pulled once).
	pulled map[string]*image.Image
}

// Build runs the Dockerfile of opts and tags the result with opts.Tags. A failed RUN returns a
// *StepError.
func (b *Builder) Build(ctx context.Context, opts Options) (*Result, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	name := opts.DockerfileName
	if name == "" {
		name = "Dockerfile"
	}
	df, err := Parse(strings.NewReader(string(opts.Dockerfile)), name)
	if err != nil {
		return nil, err
	}
	// Check the tags before any work, as docker's client does.
	for _, t := range opts.Tags {
		if _, err := image.TagReference(t); err != nil {
			return nil, fmt.Errorf("invalid tag %q: %w", t, err)
		}
	}
	stages := df.Stages
	if opts.Target != "" {
		i, ok := instructions.HasStage(stages, opts.Target)
		if !ok {
			return nil, errdefs.Invalid(fmt.Sprintf("target stage %q could not be found", opts.Target))
		}
		stages = stages[:i+1]
	}
	if len(opts.Labels) > 0 && len(stages) > 0 {
		keys := make([]string, 0, len(opts.Labels))
		for k := range opts.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		last := &stages[len(stages)-1]
		for _, k := range keys {
			last.AddCommand(instructions.NewLabelCommand(k, opts.Labels[k], true))
		}
	}
	for _, w := range df.Warnings {
		fmt.Fprintln(out, w)
	}
	bd := &build{b: b, opts: opts, out: out, shlex: shell.NewLex(df.Escape), pulled: map[string]*image.Image{}}
	st, err := bd.run(ctx, df.MetaArgs, stages)
	if err != nil {
		return nil, err
	}
	if st == nil || st.image == nil {
		return nil, errors.New("No image was generated. Is your Dockerfile empty?")
	}
	fmt.Fprintf(out, "Successfully built %s\n", ids.Truncate(st.image.ID))
	res := &Result{Image: st.image}
	for _, t := range opts.Tags {
		if err := b.Images.Tag(st.image.ID, t); err != nil {
			return nil, fmt.Errorf("tag %s: %w", t, err)
		}
		fam, err := image.TagReference(t)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "Successfully tagged %s\n", fam)
		res.Tags = append(res.Tags, fam)
	}
	if img, err := b.Images.Resolve(st.image.ID); err == nil {
		res.Image = img
	}
	return res, nil
}

// run dispatches the meta args and the stages, printing Docker's "Step i/n" lines, and returns
// the last stage's state.
func (bd *build) run(ctx context.Context, metaArgs []instructions.ArgCommand, stages []instructions.Stage) (*stageState, error) {
	total := len(metaArgs) + len(stages)
	for _, s := range stages {
		total += len(s.Commands)
	}
	step := 0
	printStep := func(v any) {
		step++
		fmt.Fprintf(bd.out, "Step %d/%d : %v\n", step, total, v)
	}
	args := newBuildArgs(bd.opts.BuildArgs)
	for i := range metaArgs {
		printStep(&metaArgs[i])
		meta := metaArgs[i]
		envs := shell.EnvsFromSlice(envList(args.allowedValues()))
		if err := meta.Expand(func(w string) (string, error) {
			v, _, err := bd.shlex.ProcessWord(w, envs)
			return v, err
		}); err != nil {
			return nil, errdefs.Invalid(err.Error())
		}
		for _, a := range meta.Args {
			args.addArg(a.Key, a.Value)
			args.addMeta(a.Key, a.Value)
		}
	}
	var st *stageState
	for i := range stages {
		stage := &stages[i]
		if stage.Name != "" {
			if _, ok := bd.stageByName(stage.Name); ok {
				return nil, errdefs.Invalid(fmt.Sprintf("%s stage name already used", stage.Name))
			}
		}
		st = &stageState{name: stage.Name, args: args.forStage()}
		printStep(stage.SourceCode)
		if err := bd.from(ctx, st, stage); err != nil {
			return nil, err
		}
		fmt.Fprintf(bd.out, " ---> %s\n", shortID(st.imageID()))
		for _, cmd := range stage.Commands {
			if err := ctx.Err(); err != nil {
				fmt.Fprint(bd.out, "Build cancelled\n")
				return nil, errors.New("Build cancelled")
			}
			printStep(cmd)
			if err := bd.step(ctx, st, cmd); err != nil {
				return nil, err
			}
			fmt.Fprintf(bd.out, " ---> %s\n", shortID(st.imageID()))
		}
		args.merge(st.args)
		bd.stages = append(bd.stages, st)
	}
	if unused := args.unused(); len(unused) > 0 {
		fmt.Fprintf(bd.out, "[Warning] One or more build-args %v were not consumed\n", unused)
	}
	return st, nil
}

// step dispatches one instruction and removes its containers as --rm and --force-rm say.
func (bd *build) step(ctx context.Context, st *stageState, cmd instructions.Command) (err error) {
	defer func() {
		if bd.opts.ForceRemove || (bd.opts.Remove && err == nil) || ctx.Err() != nil {
			bd.removeContainers()
		}
		bd.containers = nil
	}()
	return bd.dispatch(ctx, st, cmd)
}

// removeContainers removes the current step's containers with their anonymous volumes.
func (bd *build) removeContainers() {
	for _, id := range bd.containers {
		if err := bd.b.Runtime.Remove(id, runtime.RemoveOptions{Force: true, Volumes: true}); err != nil {
			fmt.Fprintf(bd.out, "Could not remove intermediate container %s: %v\n", ids.Truncate(id), err)
			continue
		}
		fmt.Fprintf(bd.out, "Removing intermediate container %s\n", ids.Truncate(id))
	}
}

// stageByName finds a finished stage by name (case-insensitive) or index.
func (bd *build) stageByName(name string) (*stageState, bool) {
	for _, s := range bd.stages {
		if s.name != "" && strings.EqualFold(s.name, name) {
			return s, true
		}
	}
	return nil, false
}

// stageRef resolves COPY --from's value: a finished stage's name or index. An index of the
// current or a later stage is an error; anything else (nil, nil) is an image reference.
func (bd *build) stageRef(v string) (*stageState, error) {
	if s, ok := bd.stageByName(v); ok {
		return s, nil
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		return nil, nil
	}
	switch {
	case i == len(bd.stages):
		return nil, errors.New("refers to current build stage")
	case i < 0 || i > len(bd.stages):
		return nil, errors.New("index out of bounds")
	}
	return bd.stages[i], nil
}

// from starts a stage on its base: scratch, an earlier stage or an image (pulled when missing
// or with --pull), then runs the base image's ONBUILD triggers.
func (bd *build) from(ctx context.Context, st *stageState, stage *instructions.Stage) error {
	envs := shell.EnvsFromSlice(envList(st.args.metaValues()))
	base, _, err := bd.shlex.ProcessWord(stage.BaseName, envs)
	if err != nil {
		return errdefs.Invalid(err.Error())
	}
	if base == "" {
		return errdefs.Invalid(fmt.Sprintf("base name (%s) should not be blank", stage.BaseName))
	}
	if stage.Platform != "" {
		p, _, err := bd.shlex.ProcessWord(stage.Platform, envs)
		if err != nil {
			return errdefs.Invalid(err.Error())
		}
		if hp := image.HostPlatform(); p != hp.OS+"/"+hp.Architecture && p != hp.OS+"/"+hp.Architecture+"/"+hp.Variant {
			return errdefs.Invalid(fmt.Sprintf("FROM --platform=%s: berth builds for %s/%s only", p, hp.OS, hp.Architecture))
		}
	}
	switch prev, ok := bd.stageByName(base); {
	case ok:
		st.image = prev.image
	case strings.EqualFold(base, "scratch"):
		st.image = nil
	default:
		img, err := bd.baseImage(ctx, base)
		if err != nil {
			return err
		}
		st.image = img
	}
	if st.image != nil && st.image.Config != nil {
		st.cfg = copyConfig(st.image.Config.Config)
	}
	if !hasEnvKey(st.cfg.Env, "PATH") {
		st.cfg.Env = append(st.cfg.Env, "PATH="+defaultPath)
	}
	st.cfg.OpenStdin, st.cfg.StdinOnce = false, false
	if triggers := st.cfg.OnBuild; len(triggers) > 0 {
		st.cfg.OnBuild = nil
		return bd.onBuildTriggers(ctx, st, triggers)
	}
	return nil
}

// baseImage finds ref in the store, pulling it when missing or when --pull asks to.
func (bd *build) baseImage(ctx context.Context, ref string) (*image.Image, error) {
	if img, ok := bd.pulled[ref]; ok {
		return img, nil
	}
	if !bd.opts.Pull {
		img, err := bd.b.Images.Resolve(ref)
		if err == nil {
			return img, nil
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
	}
	img, err := bd.b.Images.Pull(ctx, ref, image.PullOptions{Out: bd.out})
	if err != nil {
		return nil, err
	}
	bd.pulled[ref] = img
	return img, nil
}

// onBuildTriggers runs the ONBUILD instructions of a stage's base image.
func (bd *build) onBuildTriggers(ctx context.Context, st *stageState, triggers []string) error {
	s := ""
	if len(triggers) > 1 {
		s = "s"
	}
	fmt.Fprintf(bd.out, "# Executing %d build trigger%s\n", len(triggers), s)
	for _, trigger := range triggers {
		res, err := parser.Parse(strings.NewReader(trigger))
		if err != nil {
			return errdefs.Invalid(err.Error())
		}
		if len(res.AST.Children) != 1 {
			return errdefs.Invalid("onbuild trigger should be a single expression")
		}
		cmd, err := instructions.ParseCommand(res.AST.Children[0])
		if err != nil {
			return errdefs.Invalid(err.Error())
		}
		if err := bd.step(ctx, st, cmd); err != nil {
			return err
		}
	}
	return nil
}

// shortID is Docker's 12-character image ID, "" for scratch.
func shortID(id string) string {
	if id == "" {
		return ""
	}
	return ids.Truncate(id)
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func hasEnvKey(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

// defaultPath is the PATH a stage gets when its base sets none (Docker's).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
