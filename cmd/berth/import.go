package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/berth-project/berth/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
)

func newImportCommand(cli *CLI) *cobra.Command {
	var opts struct {
		changes  []string
		message  string
		platform string
	}
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(c *cobra.Command, args []string) error {
			src := args[0]
			iopts := image.ImportOptions{Changes: opts.changes, Message: opts.message, Platform: opts.platform, Source: src}
			if len(args) == 2 {
				iopts.Ref = args[1]
				if _, err := image.TagReference(iopts.Ref); err != nil {
					return imageError(cli, err)
				}
			}
			if err := image.ApplyChanges(new(v1.Config), opts.changes); err != nil {
				return imageError(cli, err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			in, err := openImportSource(ctx, cli, src)
			var pe *fs.PathError
			if errors.As(err, &pe) {
				// docker/cli opens a file source itself.
				return reportStatus(cli, 1, err.Error())
			}
			if err != nil {
				return imageError(cli, err)
			}
			defer in.Close()
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			img, err := store.Import(ctx, in, iopts)
			if err != nil {
				return imageError(cli, err)
			}
			fmt.Fprintln(cli.Out, img.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&opts.message, "message", "m", "", "Set commit message for imported image")
	f.StringVar(&opts.platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// openImportSource opens import's source: "-" is stdin, http(s) URLs are downloaded, anything
// else is a file.
func openImportSource(ctx context.Context, cli *CLI, src string) (io.ReadCloser, error) {
	switch {
	case src == "-":
		return io.NopCloser(cli.In), nil
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("import %s: %s", src, resp.Status)
		}
		return resp.Body, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	return f, nil
}
