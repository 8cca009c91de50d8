package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-project/berth/build"
	"github.com/berth-project/berth/image"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// addBuildCommands registers build (top level; "image build" is registered with the image
// commands).
func addBuildCommands(root *cobra.Command, cli *CLI) {
	root.AddCommand(newBuildCommand(cli))
}

type buildOptions struct {
	tags, buildArgs, labels []string
	file, network, target   string
	iidFile                 string
	noCache, quiet, pull    bool
	rm, forceRm             bool
}

func newBuildCommand(cli *CLI) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runBuild(cli, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	f.StringVarP(&o.file, "file", "f", "", `Name of the Dockerfile (Default is "PATH/Dockerfile")`)
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "Set build-time variables")
	f.StringArrayVar(&o.labels, "label", nil, "Set metadata for an image")
	f.BoolVar(&o.noCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.BoolVar(&o.pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.BoolVar(&o.rm, "rm", true, "Remove intermediate containers after a successful build")
	f.BoolVar(&o.forceRm, "force-rm", false, "Always remove intermediate containers")
	f.StringVar(&o.network, "network", "default", "Set the networking mode for the RUN instructions during build")
	f.StringVar(&o.target, "target", "", "Set the target build stage to build.")
	f.StringVar(&o.iidFile, "iidfile", "", "Write the image ID to the file")
	return cmd
}

func runBuild(cli *CLI, o *buildOptions, contextArg string) error {
	if contextArg == "-" && o.file == "-" {
		return reportStatus(cli, 1, "invalid argument: can't use stdin for both build context and dockerfile")
	}
	if strings.HasPrefix(contextArg, "http://") || strings.HasPrefix(contextArg, "https://") || strings.HasPrefix(contextArg, "git@") {
		return reportStatus(cli, 1, fmt.Sprintf("unable to prepare context: remote build contexts are not supported by berth: %s", contextArg))
	}
	args, err := parseBuildArgs(o.buildArgs)
	if err != nil {
		return reportStatus(cli, 1, err.Error())
	}
	labels := map[string]string{}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	for _, t := range o.tags {
		if _, err := image.TagReference(t); err != nil {
			return reportStatus(cli, 1, fmt.Sprintf("invalid argument %q for \"-t, --tag\" flag: %v", t, err))
		}
	}
	if o.iidFile != "" {
		if err := os.Remove(o.iidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return reportStatus(cli, 1, fmt.Sprintf("Removing image ID file: %v", err))
		}
	}

	bctx, dockerfile, dfName, err := openBuildContext(cli, o, contextArg)
	if err != nil {
		return reportStatus(cli, 1, err.Error())
	}
	defer bctx.Close()

	// With -q the progress is kept and shown only when the build fails, as docker does.
	var out io.Writer = cli.Out
	var held bytes.Buffer
	if o.quiet {
		out = &held
	}
	fmt.Fprintf(out, "Sending build context to Docker daemon %8s\n", units.HumanSize(float64(bctx.Size)))
	counted := &writeCounter{w: out}

	store, err := openImages(cli)
	if err != nil {
		return imageError(cli, err)
	}
	rt, err := openContainers(cli)
	if err != nil {
		return imageError(cli, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := (&build.Builder{Images: store, Runtime: rt}).Build(ctx, build.Options{
		Context: bctx, Dockerfile: dockerfile, DockerfileName: dfName,
		Tags: o.tags, BuildArgs: args, Labels: labels, Target: o.target,
		NetworkMode: o.network, Remove: o.rm || o.forceRm, ForceRemove: o.forceRm, Pull: o.pull, NoCache: o.noCache,
		Out: counted,
	})
	if err != nil {
		if o.quiet {
			cli.Err.Write(held.Bytes())
		}
		var se *build.StepError
		switch {
		case errors.As(err, &se):
			return reportStatus(cli, se.Code, se.Msg)
		case counted.n == 0:
			// Nothing streamed yet: docker's daemon answered the request with the error.
			return imageError(cli, err)
		}
		return reportStatus(cli, 1, err.Error())
	}
	if o.quiet {
		fmt.Fprintln(cli.Out, res.Image.ID)
	}
	if o.iidFile != "" {
		if err := os.WriteFile(o.iidFile, []byte(res.Image.ID), 0o666); err != nil {
			return reportStatus(cli, 1, fmt.Sprintf("Writing image ID file: %v", err))
		}
	}
	return nil
}

// openBuildContext opens the context (a folder, or a tar or a lone Dockerfile on stdin) and
// reads the Dockerfile as docker's client finds it: -f - from stdin, -f PATH relative to the
// current folder, else Dockerfile in the context.
func openBuildContext(cli *CLI, o *buildOptions, contextArg string) (*build.Context, []byte, string, error) {
	if contextArg == "-" {
		bctx, df, err := build.FromReader(cli.In, filepath.Join(cli.Root, "tmp"))
		if err != nil {
			return nil, nil, "", err
		}
		if df != nil {
			return bctx, df, "Dockerfile", nil
		}
		name := o.file
		if name == "" {
			name = "Dockerfile"
		}
		df, err = bctx.ReadFile(name)
		if err != nil {
			bctx.Close()
			return nil, nil, "", fmt.Errorf("Cannot locate specified Dockerfile: %s", name)
		}
		return bctx, df, name, nil
	}
	bctx, err := build.OpenDir(contextArg)
	if err != nil {
		return nil, nil, "", err
	}
	var df []byte
	name := o.file
	switch {
	case o.file == "-":
		df, err = io.ReadAll(cli.In)
		name = "Dockerfile"
		// docker's client adds it to the context's tar.
		bctx.Size += 512 + (int64(len(df))+511)&^511
	case o.file == "":
		name = "Dockerfile"
		df, err = readDockerfile(filepath.Join(bctx.Dir, name))
	default:
		df, err = readDockerfile(o.file)
		name = filepath.Base(o.file)
	}
	if err != nil {
		bctx.Close()
		return nil, nil, "", err
	}
	return bctx, df, name, nil
}

func readDockerfile(p string) ([]byte, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(abs); err != nil {
		return nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %w", err)
	}
	return os.ReadFile(abs)
}

// parseBuildArgs reads --build-arg KEY=VALUE; a KEY alone takes its value from berth's
// environment, and stays unset when the environment has none (as docker's client does).
func parseBuildArgs(list []string) (map[string]*string, error) {
	out := map[string]*string{}
	for _, a := range list {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid argument %q for \"--build-arg\" flag: invalid key", a)
		}
		if !ok {
			if ev, set := os.LookupEnv(k); set {
				out[k] = &ev
			} else {
				out[k] = nil
			}
			continue
		}
		out[k] = &v
	}
	return out, nil
}

// writeCounter counts what goes through it.
type writeCounter struct {
	w io.Writer
	n int64
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}
