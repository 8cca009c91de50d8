package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/build/dockerfile/instructions"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/runtime"
	"github.com/berth-project/berth/storage"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	"golang.org/x/sys/unix"
)

// createContainer creates a step's container on st's image with command cmd (env, when not
// nil, replaces the stage's environment) and prints Docker's "Running in" line. The container
// is removed at the end of the step (see build.step).
func (bd *build) createContainer(st *stageState, cmd, env []string) (string, error) {
	lowers, err := bd.lowerDirs(st)
	if err != nil {
		return "", err
	}
	if env == nil {
		env = st.cfg.Env
	}
	cfg := &container.Config{
		Cmd:          cmd,
		Env:          append([]string{}, env...),
		WorkingDir:   st.cfg.WorkingDir,
		User:         st.cfg.User,
		Labels:       cloneMap(st.cfg.Labels),
		Volumes:      cloneMap(st.cfg.Volumes),
		StopSignal:   st.cfg.StopSignal,
		Shell:        cloneSlice(st.cfg.Shell),
		AttachStdout: true,
		AttachStderr: true,
		Healthcheck:  &container.HealthConfig{Test: []string{"NONE"}},
	}
	if len(st.cfg.ExposedPorts) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		for p := range st.cfg.ExposedPorts {
			cfg.ExposedPorts[nat.Port(p)] = struct{}{}
		}
	}
	mode := bd.opts.NetworkMode
	if mode == "" || mode == "default" {
		mode = "bridge"
	}
	c, err := bd.b.Runtime.Create(runtime.CreateOptions{
		Image:      st.imageID(),
		ImageID:    st.imageID(),
		LowerDirs:  lowers,
		Config:     cfg,
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(mode)},
	})
	if err != nil {
		return "", err
	}
	bd.containers = append(bd.containers, c.ID)
	fmt.Fprintf(bd.out, " ---> Running in %s\n", ids.Truncate(c.ID))
	return c.ID, nil
}

func (bd *build) lowerDirs(st *stageState) ([]string, error) {
	if st.image == nil {
		return nil, nil
	}
	return bd.b.Images.LowerDirs(st.image)
}

// runStep runs RUN in a container and commits what it changed.
func (bd *build) runStep(ctx context.Context, st *stageState, c *instructions.RunCommand) error {
	if len(c.FlagsUsed) > 0 {
		return errRequiresBuildKit(c.FlagsUsed[0])
	}
	if len(c.Files) > 0 {
		return errdefs.Invalid("RUN with a here-document requires BuildKit")
	}
	if st.image == nil {
		return errdefs.Invalid("no image to run the command in: the stage starts FROM scratch and has no files yet")
	}
	cmd := resolveCmdLine(c.ShellDependantCmdLine, st.cfg)
	argEnv := st.args.env(st.cfg.Env)
	// The history shows the build arguments RUN saw, as Docker writes them: "|2 A=1 B=2 cmd".
	saveCmd := cmd
	if len(argEnv) > 0 {
		var shown []string
		for _, e := range argEnv {
			if k, _, _ := strings.Cut(e, "="); st.args.inHistory(k) {
				shown = append(shown, e)
			}
		}
		saveCmd = append(append([]string{fmt.Sprintf("|%d", len(shown))}, shown...), cmd...)
	}
	if hit, err := bd.probeCache(st, strings.Join(saveCmd, " ")); err != nil || hit {
		return err
	}
	id, err := bd.createContainer(st, cmd, append(append([]string{}, st.cfg.Env...), argEnv...))
	if err != nil {
		return err
	}
	code, err := bd.runContainer(ctx, id)
	if err != nil {
		return err
	}
	if code != 0 {
		return &StepError{Code: code, Msg: fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(cmd, " "), code)}
	}
	upper := filepath.Join(bd.b.Runtime.Layout.ContainerDir(id), "upper")
	dropMountPoints(upper)
	return bd.commit(ctx, st, id, strings.Join(saveCmd, " "), func(w io.Writer) error { return storage.Diff(upper, w) })
}

// runContainer starts container id attached, streams its output to the build's output and
// returns its exit code once it is cleaned up. A cancelled ctx kills it.
func (bd *build) runContainer(ctx context.Context, id string) (int, error) {
	rt := bd.b.Runtime
	_, conn, err := rt.Start(id, runtime.StartOptions{Attach: &runtime.AttachOptions{Stdout: true, Stderr: true}})
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { rt.Kill(id, unix.SIGKILL) })
	defer stop()
	code, err := conn.Stream(nil, bd.out, bd.out, nil)
	if ctx.Err() != nil {
		return -1, errors.New("Build cancelled")
	}
	if err != nil {
		return -1, err
	}
	return code, nil
}

// dropMountPoints removes from a stopped container's upper folder what the runtime made there
// as mount points (Docker keeps them in an init layer that is never committed): the empty
// /etc/hosts, /etc/hostname, /etc/resolv.conf and /.dockerenv, and /dev, /proc, /sys and /etc
// when nothing else is left in them.
func dropMountPoints(upper string) {
	for _, f := range []string{"etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv"} {
		p := filepath.Join(upper, f)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			os.Remove(p)
		}
	}
	for _, d := range []string{"dev/pts", "dev/shm", "dev/mqueue", "dev", "proc", "sys", "etc"} {
		p := filepath.Join(upper, d)
		if isOpaque(p) {
			continue
		}
		os.Remove(p) // only succeeds when empty
	}
}

// isOpaque tells whether p is an overlay folder that hides the layers below.
func isOpaque(p string) bool {
	buf := make([]byte, 2)
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// workdir sets the working directory and creates it in a layer of its own, as Docker does.
func (bd *build) workdir(ctx context.Context, st *stageState, p string) error {
	wd, err := normalizeWorkdir(st.cfg.WorkingDir, p)
	if err != nil {
		return err
	}
	st.cfg.WorkingDir = wd
	cmd := append(shellOf(st.cfg), "#(nop) WORKDIR "+wd)
	if hit, err := bd.probeCache(st, strings.Join(cmd, " ")); err != nil || hit {
		return err
	}
	id, err := bd.createContainer(st, cmd, nil)
	if err != nil {
		return err
	}
	dir := bd.b.Runtime.Layout.ContainerDir(id)
	upper := filepath.Join(dir, "upper")
	err = bd.inOverlay(st, dir, func(root string) error {
		target, err := securejoin.SecureJoin(root, wd)
		if err != nil {
			return err
		}
		return os.MkdirAll(target, 0o755)
	})
	if err != nil {
		return fmt.Errorf("WORKDIR %s: %w", wd, err)
	}
	return bd.commit(ctx, st, id, strings.Join(cmd, " "), func(w io.Writer) error { return storage.Diff(upper, w) })
}

// inOverlay mounts st's image with the writable folder dir/upper (and dir/work) at dir/merged,
// runs fn on the mounted root and unmounts it.
func (bd *build) inOverlay(st *stageState, dir string, fn func(root string) error) error {
	lowers, err := bd.lowerDirs(st)
	if err != nil {
		return err
	}
	if len(lowers) == 0 { // scratch: overlayfs needs a lower folder
		empty := filepath.Join(dir, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return err
		}
		lowers = []string{empty}
	}
	merged := filepath.Join(dir, "merged")
	if err := storage.MountOverlay(lowers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), merged); err != nil {
		return err
	}
	ferr := fn(merged)
	if err := storage.Unmount(merged); err != nil && ferr == nil {
		ferr = err
	}
	return ferr
}
