package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/runtime"
)

// inspectOptions are the flags of `inspect` and `container inspect`.
type inspectOptions struct {
	format     string
	size       bool
	objectType string
}

// inspectTypes are the object kinds `inspect --type` accepts, in the order Docker searches them.
var inspectTypes = []string{"container", "image", "network", "volume"}

// newInspectCommand is the top-level `inspect`: containers first, then images, networks and
// volumes, as Docker searches them.
func newInspectCommand(cli *CLI) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch o.objectType {
			case "", "container", "image", "network", "volume":
			default:
				return &StatusError{Code: 1, Msg: fmt.Sprintf("%q is not a valid value for --type", o.objectType)}
			}
			return runInspect(cli, args, o.format, newObjectFinder(cli, &o))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes if the type is container")
	f.StringVar(&o.objectType, "type", "", "Only inspect objects of the given type")
	return cmd
}

// newContainerInspectCommand is `container inspect`.
func newContainerInspectCommand(cli *CLI) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.objectType = "container"
			finder := newObjectFinder(cli, &o)
			return runInspect(cli, args, o.format, func(ref string) (any, error) {
				v, err := finder(ref)
				if errors.Is(err, errdefs.ErrNotFound) {
					return nil, errdefs.NotFound("No such container: " + ref)
				}
				return v, err
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	f.BoolVarP(&o.size, "size", "s", false, "Display total file sizes")
	return cmd
}

// runInspect prints the objects found for refs (a JSON array, or the template once per object)
// and then one "Error: ..." line per reference that failed, exiting 1 if any did. A template that
// does not parse exits 64, as docker/cli does.
func runInspect(cli *CLI, refs []string, tmplText string, find func(ref string) (any, error)) error {
	var found []any
	var errs []string
	for _, ref := range refs {
		v, err := find(ref)
		if err != nil {
			errs = append(errs, "Error: "+err.Error())
			continue
		}
		found = append(found, v)
	}
	var out bytes.Buffer
	switch tmplText {
	case "":
		if err := writeIndentedJSON(&out, found); err != nil {
			return err
		}
	case "json":
		if len(found) == 0 {
			out.WriteString("[]\n")
		}
		for _, v := range found {
			data, err := json.Marshal(v)
			if err != nil {
				return err
			}
			out.Write(data)
			out.WriteByte('\n')
		}
	default:
		tmpl, err := format.Parse(tmplText)
		if err != nil {
			return &StatusError{Code: 64, Msg: err.Error()}
		}
		for _, v := range found {
			var buf bytes.Buffer
			if err := executeInspectTemplate(&buf, tmpl, v); err != nil {
				errs = append(errs, "template parsing error: "+err.Error())
				continue
			}
			out.Write(buf.Bytes())
			out.WriteByte('\n')
		}
		if out.Len() == 0 {
			out.WriteByte('\n')
		}
	}
	cli.Out.Write(out.Bytes())
	if len(errs) > 0 {
		fmt.Fprintln(cli.Err, strings.Join(errs, "\n"))
		return &StatusError{Code: 1}
	}
	return nil
}

// executeInspectTemplate runs tmpl on the typed object and, when that fails (a JSON field name
// such as .Id that differs from the Go field name), on the object's JSON form, as docker/cli does.
func executeInspectTemplate(buf *bytes.Buffer, tmpl *template.Template, v any) error {
	if err := tmpl.Execute(buf, v); err == nil {
		return nil
	}
	buf.Reset()
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var raw any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("unable to read inspect data: %w", err)
	}
	return tmpl.Option("missingkey=error").Execute(buf, raw)
}

// writeIndentedJSON writes v as Docker prints inspect output: indented by four spaces, with no
// HTML escaping; an empty list prints "[]".
func writeIndentedJSON(w *bytes.Buffer, list []any) error {
	if len(list) == 0 {
		w.WriteString("[]\n")
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	return enc.Encode(list)
}

// newObjectFinder returns the lookup for `inspect`: each kind allowed by o.objectType is tried in
// Docker's order; "not found" moves on to the next kind, any other error stops the search.
func newObjectFinder(cli *CLI, o *inspectOptions) func(ref string) (any, error) {
	var rt *runtime.Runtime
	var images *image.Store
	kinds := inspectTypes
	if o.objectType != "" {
		kinds = []string{o.objectType}
	}
	return func(ref string) (any, error) {
		for _, kind := range kinds {
			var v any
			var err error
			switch kind {
			case "container":
				if rt == nil {
					if rt, err = runtime.Open(runtime.Layout{Root: cli.Root, RunRoot: cli.RunRoot}); err != nil {
						return nil, err
					}
				}
				v, err = inspectContainer(cli, rt, &images, ref, o.size)
			case "image":
				if images == nil {
					if images, err = openImages(cli); err != nil {
						return nil, err
					}
				}
				v, err = inspectImage(images, ref)
				if err == nil && o.size {
					fmt.Fprintln(cli.Err, "WARNING: --size ignored for image")
				}
			case "network":
				v, err = inspectNetworkObject(cli, ref)
			case "volume":
				v, err = inspectVolumeObject(cli, ref)
			}
			if err == nil {
				return v, nil
			}
			if !errors.Is(err, errdefs.ErrNotFound) {
				return nil, err
			}
			if o.objectType != "" {
				return nil, err
			}
		}
		return nil, errdefs.NotFound("No such object: " + ref)
	}
}

// inspectContainer finds ref among the containers and builds Docker's inspect document.
func inspectContainer(cli *CLI, rt *runtime.Runtime, images **image.Store, ref string, size bool) (any, error) {
	c, err := rt.Get(ref)
	if err != nil {
		return nil, err
	}
	opts := runtime.InspectOptions{Size: size}
	if size {
		opts.ImageSize = func(id string) (int64, error) {
			if *images == nil {
				s, err := openImages(cli)
				if err != nil {
					return 0, err
				}
				*images = s
			}
			img, err := (*images).Resolve(id)
			if err != nil {
				return 0, err
			}
			return img.Size, nil
		}
	}
	return rt.Inspect(c, opts)
}

// inspectImage resolves ref in the image store and returns Docker's image inspect document.
func inspectImage(s *image.Store, ref string) (any, error) {
	img, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return s.Inspect(img)
}

// inspectNetworkObject and inspectVolumeObject reuse the network and volume stores for the
// top-level inspect.
func inspectNetworkObject(cli *CLI, ref string) (any, error) {
	s, err := openNetworks(cli)
	if err != nil {
		return nil, err
	}
	n, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	return n.Inspect(), nil
}

func inspectVolumeObject(cli *CLI, ref string) (any, error) {
	s, err := openVolumes(cli)
	if err != nil {
		return nil, err
	}
	v, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	return v.API(), nil
}
