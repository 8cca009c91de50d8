package build

import (
	"context"
	"fmt"
	"io"
	"path"
	"reflect"
	"strings"

	"github.com/berth-project/berth/build/dockerfile/instructions"
	"github.com/berth-project/berth/build/dockerfile/shell"
	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/runtime"
	"github.com/docker/go-connections/nat"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// dispatch runs one instruction on st, after substituting variables where Docker does (the
// environment and the stage's build arguments).
func (bd *build) dispatch(ctx context.Context, st *stageState, cmd instructions.Command) error {
	envs := shell.EnvsFromSlice(append(append([]string{}, st.cfg.Env...), st.args.env(st.cfg.Env)...))
	if err := expand(bd.shlex, cmd, envs); err != nil {
		return err
	}
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		msg := "ENV"
		for _, kv := range c.Env {
			st.cfg.Env = setEnv(st.cfg.Env, kv.Key, kv.Value)
			msg += " " + kv.String()
		}
		return bd.commitMeta(ctx, st, msg)
	case *instructions.MaintainerCommand:
		st.maintainer = c.Maintainer
		return bd.commitMeta(ctx, st, "MAINTAINER "+c.Maintainer)
	case *instructions.LabelCommand:
		if st.cfg.Labels == nil {
			st.cfg.Labels = map[string]string{}
		}
		msg := "LABEL"
		for _, kv := range c.Labels {
			st.cfg.Labels[kv.Key] = kv.Value
			msg += " " + kv.String()
		}
		return bd.commitMeta(ctx, st, msg)
	case *instructions.AddCommand:
		if c.Chmod != "" {
			return errRequiresBuildKit("chmod")
		}
		if c.Link || c.Checksum != "" || c.KeepGitDir != nil || c.Unpack != nil || len(c.ExcludePatterns) > 0 {
			return errRequiresBuildKit(firstFlag(c.Link, "link", c.Checksum != "", "checksum", c.KeepGitDir != nil, "keep-git-dir", c.Unpack != nil, "unpack", true, "exclude"))
		}
		return bd.copy(ctx, st, copyRequest{name: "ADD", sd: c.SourcesAndDest, chown: c.Chown, add: true})
	case *instructions.CopyCommand:
		if c.Chmod != "" {
			return errRequiresBuildKit("chmod")
		}
		if c.Link || c.Parents || len(c.ExcludePatterns) > 0 {
			return errRequiresBuildKit(firstFlag(c.Link, "link", c.Parents, "parents", true, "exclude"))
		}
		return bd.copy(ctx, st, copyRequest{name: "COPY", sd: c.SourcesAndDest, chown: c.Chown, from: c.From})
	case *instructions.OnbuildCommand:
		st.cfg.OnBuild = append(st.cfg.OnBuild, c.Expression)
		return bd.commitMeta(ctx, st, "ONBUILD "+c.Expression)
	case *instructions.WorkdirCommand:
		return bd.workdir(ctx, st, c.Path)
	case *instructions.RunCommand:
		return bd.runStep(ctx, st, c)
	case *instructions.CmdCommand:
		st.cfg.Cmd = resolveCmdLine(c.ShellDependantCmdLine, st.cfg)
		st.cfg.ArgsEscaped = false
		if err := bd.commitMeta(ctx, st, fmt.Sprintf("CMD %q", st.cfg.Cmd)); err != nil {
			return err
		}
		if len(c.CmdLine) != 0 {
			st.cmdSet = true
		}
		return nil
	case *instructions.HealthCheckCommand:
		if hc := st.cfg.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
			fmt.Fprintf(bd.out, "Note: overriding previous HEALTHCHECK: %v\n", hc.Test)
		}
		h := c.Health
		st.cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		// Docker formats the whole config with %q: keep its history text byte for byte.
		var health any = c.Health
		return bd.commitMeta(ctx, st, fmt.Sprintf("HEALTHCHECK %q", health))
	case *instructions.EntrypointCommand:
		st.cfg.Entrypoint = resolveCmdLine(c.ShellDependantCmdLine, st.cfg)
		st.cfg.ArgsEscaped = false
		if !st.cmdSet {
			st.cfg.Cmd = nil
		}
		return bd.commitMeta(ctx, st, fmt.Sprintf("ENTRYPOINT %q", st.cfg.Entrypoint))
	case *instructions.ExposeCommand:
		var ports []string
		for _, p := range c.Ports {
			ps, err := bd.shlex.ProcessWords(p, envs)
			if err != nil {
				return errdefs.Invalid(err.Error())
			}
			ports = append(ports, ps...)
		}
		set, _, err := nat.ParsePortSpecs(ports)
		if err != nil {
			return errdefs.Invalid(err.Error())
		}
		if st.cfg.ExposedPorts == nil {
			st.cfg.ExposedPorts = map[string]struct{}{}
		}
		for p := range set {
			st.cfg.ExposedPorts[string(p)] = struct{}{}
		}
		return bd.commitMeta(ctx, st, "EXPOSE "+strings.Join(ports, " "))
	case *instructions.UserCommand:
		st.cfg.User = c.User
		return bd.commitMeta(ctx, st, "USER "+c.User)
	case *instructions.VolumeCommand:
		if st.cfg.Volumes == nil {
			st.cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return errdefs.Invalid("VOLUME specified can not be an empty string")
			}
			st.cfg.Volumes[v] = struct{}{}
		}
		return bd.commitMeta(ctx, st, fmt.Sprintf("VOLUME %v", c.Volumes))
	case *instructions.StopSignalCommand:
		if _, err := runtime.ParseSignal(c.Signal); err != nil {
			return errdefs.Invalid(err.Error())
		}
		st.cfg.StopSignal = c.Signal
		return bd.commitMeta(ctx, st, "STOPSIGNAL "+c.Signal)
	case *instructions.ArgCommand:
		var msg strings.Builder
		msg.WriteString("ARG ")
		for i, a := range c.Args {
			if i > 0 {
				msg.WriteString(" ")
			}
			msg.WriteString(a.Key)
			if a.Value != nil {
				msg.WriteString("=" + *a.Value)
			}
			st.args.addArg(a.Key, a.Value)
		}
		return bd.commitMeta(ctx, st, msg.String())
	case *instructions.ShellCommand:
		st.cfg.Shell = append([]string{}, c.Shell...)
		return bd.commitMeta(ctx, st, fmt.Sprintf("SHELL %v", st.cfg.Shell))
	}
	return fmt.Errorf("unsupported command type: %v", reflect.TypeOf(cmd))
}

// expand substitutes variables ($VAR, ${VAR:-default}, ...) in the words of cmd that Docker
// substitutes in.
func expand(lex *shell.Lex, cmd instructions.Command, envs shell.EnvGetter) error {
	ex, ok := cmd.(instructions.SupportsSingleWordExpansion)
	if !ok {
		return nil
	}
	if err := ex.Expand(func(word string) (string, error) {
		w, _, err := lex.ProcessWord(word, envs)
		return w, err
	}); err != nil {
		return errdefs.Invalid(err.Error())
	}
	return nil
}

// commitMeta commits a step that changes only the config, as Docker does: through a container
// that is created (never started) and committed without a layer. The history entry reads
// "/bin/sh -c #(nop)  CMD [...]".
func (bd *build) commitMeta(ctx context.Context, st *stageState, comment string) error {
	cmd := append(shellOf(st.cfg), "#(nop) ", comment)
	if hit, err := bd.probeCache(st, strings.Join(cmd, " ")); err != nil || hit {
		return err
	}
	id, err := bd.createContainer(st, cmd, nil)
	if err != nil {
		return err
	}
	return bd.commit(ctx, st, id, strings.Join(cmd, " "), nil)
}

// commit makes the step's image from st.cfg, with the layer that write writes (nil: none), on
// top of st's image and moves st onto it.
func (bd *build) commit(ctx context.Context, st *stageState, container, createdBy string, write func(io.Writer) error) error {
	opts := image.CommitOptions{
		Config:     copyConfig(st.cfg),
		Author:     st.maintainer,
		CreatedBy:  createdBy,
		EmptyLayer: write == nil,
		Container:  container,
	}
	opts.Config.Image = st.imageID()
	img, err := bd.b.Images.Commit(ctx, st.imageID(), write, opts)
	if err != nil {
		return err
	}
	st.image = img
	return nil
}

// resolveCmdLine is the command of RUN, CMD or ENTRYPOINT: the exec form as written, the shell
// form after the stage's SHELL.
func resolveCmdLine(c instructions.ShellDependantCmdLine, cfg v1.Config) []string {
	if c.PrependShell && c.CmdLine != nil {
		return append(shellOf(cfg), c.CmdLine...)
	}
	return c.CmdLine
}

// shellOf is the stage's SHELL, "/bin/sh -c" by default.
func shellOf(cfg v1.Config) []string {
	if len(cfg.Shell) == 0 {
		return []string{"/bin/sh", "-c"}
	}
	return append([]string{}, cfg.Shell...)
}

// normalizeWorkdir resolves WORKDIR's path against the current one.
func normalizeWorkdir(current, requested string) (string, error) {
	if requested == "" {
		return "", errdefs.Invalid("cannot normalize nothing")
	}
	if !path.IsAbs(requested) {
		return path.Join("/", current, requested), nil
	}
	return path.Clean(requested), nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); shell.EqualEnvKeys(ek, k) {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// copyConfig returns a deep copy of c (its slices and maps are not shared).
func copyConfig(c v1.Config) v1.Config {
	n := c
	n.Cmd = cloneSlice(c.Cmd)
	n.Entrypoint = cloneSlice(c.Entrypoint)
	n.Env = cloneSlice(c.Env)
	n.OnBuild = cloneSlice(c.OnBuild)
	n.Shell = cloneSlice(c.Shell)
	n.Labels = cloneMap(c.Labels)
	n.Volumes = cloneMap(c.Volumes)
	n.ExposedPorts = cloneMap(c.ExposedPorts)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = cloneSlice(h.Test)
		n.Healthcheck = &h
	}
	return n
}

func cloneSlice(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

func cloneMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	n := make(map[string]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}

func errRequiresBuildKit(flag string) error {
	return errdefs.Invalid(fmt.Sprintf("the --%s option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled", flag))
}

// firstFlag returns the name after the first true condition of pairs (cond, name, ...).
func firstFlag(pairs ...any) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].(bool) {
			return pairs[i+1].(string)
		}
	}
	return ""
}
