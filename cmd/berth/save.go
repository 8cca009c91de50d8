package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newSaveCommand(cli *CLI) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  requiresMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			if output == "" {
				if isTerminal(cli.Out) {
					return reportStatus(cli, 1, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				bw := bufio.NewWriterSize(cli.Out, 1<<20)
				if err := store.Save(args, bw); err != nil {
					return imageError(cli, err)
				}
				return imageError(cli, bw.Flush())
			}
			if err := validateOutputPath(output); err != nil {
				return reportStatus(cli, 1, "failed to save image: "+err.Error())
			}
			// Write next to the target and rename, so a failed save leaves no partial archive.
			tmp, err := os.CreateTemp(filepath.Dir(output), "."+filepath.Base(output)+".tmp*")
			if err != nil {
				return reportStatus(cli, 1, "failed to save image: "+err.Error())
			}
			err = saveTo(tmp, func(w io.Writer) error { return store.Save(args, w) })
			if err == nil {
				err = os.Rename(tmp.Name(), output)
			}
			if err != nil {
				os.Remove(tmp.Name())
				return imageError(cli, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// validateOutputPath checks -o as docker/cli does: its folder must exist, and an existing path
// must be a regular file.
func validateOutputPath(path string) error {
	dir := filepath.Dir(filepath.Clean(path))
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("invalid output path: directory %q does not exist", dir)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("invalid output path: %q must be a regular file", path)
	}
	return nil
}

func saveTo(f *os.File, write func(io.Writer) error) error {
	bw := bufio.NewWriterSize(f, 1<<20)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
