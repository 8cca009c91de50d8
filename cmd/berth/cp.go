package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/copyarchive"
	"github.com/berth-project/berth/runtime"
)

// addCopyCommands registers cp (top level and under "container").
func addCopyCommands(root, container *cobra.Command, cli *CLI) {
	root.AddCommand(newCopyCommand(cli))
	container.AddCommand(newCopyCommand(cli))
}

type cpOptions struct {
	followLink bool
	archive    bool
	quiet      bool
}

// newCopyCommand is `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-` and
// `cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`, as docker/cli's.
func newCopyCommand(cli *CLI) *cobra.Command {
	var opts cpOptions
	cmd := &cobra.Command{
		Use: `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
	berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`,
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
		Args:                  exactArgs(2),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return localError(cli, errors.New("source can not be empty"))
			}
			if args[1] == "" {
				return localError(cli, errors.New("destination can not be empty"))
			}
			if !cmd.Flag("quiet").Changed {
				// As Docker: no summary when stdout is not a terminal.
				opts.quiet = !isTerminal(cli.Out)
			}
			return runCopy(cli, opts, args[0], args[1])
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.followLink, "follow-link", "L", false, "Always follow symlinks in SRC_PATH")
	flags.BoolVarP(&opts.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// localError prints an error of the local side of a copy as docker/cli does (its text alone)
// and makes berth exit 1.
func localError(cli *CLI, err error) error {
	if err == nil {
		return nil
	}
	fmt.Fprintln(cli.Err, err)
	return &StatusError{Code: 1}
}

func runCopy(cli *CLI, opts cpOptions, src, dst string) error {
	srcCtr, srcPath := splitCpArg(src)
	dstCtr, dstPath := splitCpArg(dst)
	switch {
	case srcCtr != "" && dstCtr != "":
		return localError(cli, errors.New("copying between containers is not supported"))
	case srcCtr != "":
		return copyFromContainer(cli, opts, srcCtr, srcPath, dstPath)
	case dstCtr != "":
		return copyToContainer(cli, opts, srcPath, dstCtr, dstPath)
	}
	return localError(cli, errors.New("must specify at least one container source"))
}

// splitCpArg splits CONTAINER:PATH. A local path with a ":" must be made explicit, absolute or
// starting with ".", as with scp.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, p
}

// localPath makes a local path absolute, keeping a trailing "/" or "/.".
func localPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return copyarchive.PreserveTrailingDotOrSeparator(abs, p), nil
}

// validateCopyOutputPath is docker/cli's check of a local destination: its folder must exist and
// it must be a folder or a regular file if it exists.
func validateCopyOutputPath(p string) error {
	if dir := filepath.Dir(filepath.Clean(p)); dir != "" && dir != "." {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return fmt.Errorf("invalid output path: directory %q does not exist", dir)
		}
	}
	fi, err := os.Stat(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := fileModeError(fi.Mode()); err != nil {
		return fmt.Errorf("invalid output path: %q must be a directory or a regular file: %w", p, err)
	}
	return nil
}

func fileModeError(m fs.FileMode) error {
	switch {
	case m&fs.ModeDevice != 0:
		return errors.New("got a device")
	case m&fs.ModeIrregular != 0:
		return errors.New("got an irregular file")
	}
	return nil
}

func openFS(cli *CLI, ctr string) (*runtime.ContainerFS, error) {
	rt, err := runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot})
	if err != nil {
		return nil, err
	}
	return rt.OpenFS(ctr)
}

func copyFromContainer(cli *CLI, opts cpOptions, ctr, srcPath, dstPath string) error {
	if dstPath != "-" {
		p, err := localPath(dstPath)
		if err != nil {
			return localError(cli, err)
		}
		dstPath = p
		if err := validateCopyOutputPath(dstPath); err != nil {
			return localError(cli, err)
		}
	}
	view, err := openFS(cli, ctr)
	if err != nil {
		return observeError(cli, err)
	}
	defer view.Close()

	rebaseName := ""
	if opts.followLink {
		if st, err := view.Stat(srcPath); err == nil && st.Mode&fs.ModeSymlink != 0 {
			srcPath, rebaseName = copyarchive.RebaseName(srcPath, st.LinkTarget)
		}
	}
	content, st, err := view.Archive(srcPath)
	if err != nil {
		return observeError(cli, err)
	}
	defer content.Close()
	if dstPath == "-" {
		_, err := io.Copy(cli.Out, content)
		return localError(cli, err)
	}

	var copied atomic.Int64
	var r io.Reader = &countingReader{r: content, n: &copied}
	srcInfo := copyarchive.Info{Path: srcPath, Exists: true, IsDir: st.Mode.IsDir(), RebaseName: rebaseName}
	if rebaseName != "" {
		rc := copyarchive.Rebase(r, copyarchive.EntryBase(srcPath), rebaseName)
		defer rc.Close()
		r = rc
	}
	stop := startProgress(cli, opts.quiet, "Copying from container - ", &copied)
	err = copyTo(r, srcInfo, dstPath, opts.archive)
	stop()
	if err != nil {
		return localError(cli, err)
	}
	if !opts.quiet {
		reported := copied.Load()
		if !st.Mode.IsDir() {
			reported = st.Size
		}
		fmt.Fprint(cli.Err, copySummary(reported, copied.Load(), dstPath))
	}
	return nil
}

// copyTo extracts the tar content of the source srcInfo where Docker's rules put it for the
// local destination dstPath. With archive (-a) the container's owners are kept; else the files
// belong to the caller.
func copyTo(content io.Reader, srcInfo copyarchive.Info, dstPath string, archive bool) error {
	dstInfo, err := copyarchive.DestinationInfo(dstPath)
	if err != nil {
		return err
	}
	plan, err := copyarchive.PlanCopy(srcInfo, dstInfo)
	if err != nil {
		return err
	}
	if plan.Renames() {
		rc := copyarchive.Rebase(content, plan.OldBase, plan.NewBase)
		defer rc.Close()
		content = rc
	}
	return copyarchive.Extract(content, plan.Dir, copyarchive.ExtractOptions{NoOverwriteDirNonDir: true, KeepOwner: archive})
}

func copyToContainer(cli *CLI, opts cpOptions, srcPath, ctr, dstPath string) error {
	if srcPath != "-" {
		p, err := localPath(srcPath)
		if err != nil {
			return localError(cli, err)
		}
		srcPath = p
	}
	view, err := openFS(cli, ctr)
	if err != nil {
		return observeError(cli, err)
	}
	defer view.Close()

	// What the destination is, a symlink followed inside the container.
	dstInfo := copyarchive.Info{Path: dstPath}
	if st, err := view.Stat(dstPath); err == nil {
		if st.Mode&fs.ModeSymlink != 0 {
			dstInfo.Path = st.LinkTarget
			st, err = view.Stat(st.LinkTarget)
		}
		if err == nil {
			if err := fileModeError(st.Mode); err != nil {
				return localError(cli, fmt.Errorf(`destination "%s:%s" must be a directory or a regular file: %w`, ctr, dstPath, err))
			}
			dstInfo.Exists, dstInfo.IsDir = true, st.Mode.IsDir()
		}
	}

	var copied atomic.Int64
	var content io.Reader
	var extractDir string
	contentSize := int64(-1)
	if srcPath == "-" {
		if !dstInfo.IsDir {
			return localError(cli, fmt.Errorf(`destination "%s:%s" must be a directory`, ctr, dstPath))
		}
		content, extractDir = cli.In, dstInfo.Path
	} else {
		srcInfo, err := copyarchive.SourceInfo(srcPath, opts.followLink)
		if err != nil {
			return localError(cli, err)
		}
		plan, err := copyarchive.PlanCopy(srcInfo, dstInfo)
		if err != nil {
			return localError(cli, err)
		}
		if n, err := localContentSize(srcInfo.Path); err == nil {
			contentSize = n
		}
		name := copyarchive.EntryBase(srcInfo.Path)
		if srcInfo.RebaseName != "" {
			name = srcInfo.RebaseName
		}
		if plan.Renames() {
			name = plan.NewBase
		}
		pr, pw := io.Pipe()
		defer pr.Close()
		go func() { pw.CloseWithError(copyarchive.WriteTar(pw, srcInfo.Path, name)) }()
		content, extractDir = pr, plan.Dir
	}
	stop := startProgress(cli, opts.quiet, "Copying to container - ", &copied)
	err = view.Extract(extractDir, &countingReader{r: content, n: &copied}, runtime.ExtractOptions{
		KeepOwner: opts.archive, NoOverwriteDirNonDir: true,
	})
	stop()
	if err != nil {
		var le *localReadError
		if errors.As(err, &le) {
			return localError(cli, le.err)
		}
		return observeError(cli, err)
	}
	if !opts.quiet {
		reported := contentSize
		if reported < 0 {
			reported = copied.Load()
		}
		fmt.Fprint(cli.Err, copySummary(reported, copied.Load(), ctr+":"+dstInfo.Path))
	}
	return nil
}

// localContentSize is the size of the regular files at p (a file or a folder tree).
func localContentSize(p string) (int64, error) {
	var total int64
	err := filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	return total, err
}

// copySummary is docker/cli's closing line; the size transferred (the tar's) shows when it
// differs from the content's.
func copySummary(content, transferred int64, dest string) string {
	if content != transferred {
		return fmt.Sprintf("Successfully copied %s (transferred %s) to %s\n", humanSize(content), humanSize(transferred), dest)
	}
	return fmt.Sprintf("Successfully copied %s to %s\n", humanSize(content), dest)
}

func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// countingReader counts what is read through it. An error of the local side (the tar of a
// local source, stdin) is marked so that it is not reported as the daemon's.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if err != nil && err != io.EOF {
		err = &localReadError{err: err}
	}
	return n, err
}

type localReadError struct{ err error }

// Error is the local error's text. There is no Unwrap: a missing local file must not read as a
// path missing in the container.
func (e *localReadError) Error() string { return e.err.Error() }

// startProgress shows docker/cli's progress line on stderr while a copy runs, when not quiet and
// stderr is a terminal; the returned function erases it.
func startProgress(cli *CLI, quiet bool, header string, total *atomic.Int64) (stop func()) {
	if quiet || !isTerminal(cli.Err) {
		return func() {}
	}
	const esc = "\x1b["
	w := cli.Err
	fmt.Fprint(w, esc+"s"+"Preparing to copy...")
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		fmt.Fprint(w, esc+"?25l")
		defer fmt.Fprint(w, esc+"?25h")
		fmt.Fprint(w, esc+"u"+esc+"2K"+header+humanSize(0))
		last := int64(0)
		tick := time.NewTicker(75 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if n := total.Load(); n != last {
					fmt.Fprintf(w, "%s%dG%s0K%s", esc, len(header)+1, esc, humanSize(n))
					last = n
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		fmt.Fprint(w, esc+"u"+esc+"2K")
	}
}
