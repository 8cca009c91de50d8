package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/berth-project/berth/internal/format"
	"github.com/spf13/cobra"
)

func newImageInspectCommand(cli *CLI) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  requiresMinArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			// As docker/cli: the template is checked before any image is looked up.
			var t *template.Template
			if tmpl != "" && tmpl != "json" {
				var err error
				if t, err = format.Parse(tmpl); err != nil {
					return reportStatus(cli, 64, err.Error())
				}
			}
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			var found []any
			var errs []string
			for _, ref := range args {
				img, err := store.Resolve(ref)
				if err == nil {
					var v any
					if v, err = store.Inspect(img); err == nil {
						found = append(found, v)
						continue
					}
				}
				// As Docker 23+: the daemon's answer ("No such image: busybox:latest").
				errs = append(errs, "Error response from daemon: "+err.Error())
			}
			var out bytes.Buffer
			switch tmpl {
			case "":
				if err := writeIndentedJSON(&out, found); err != nil {
					return imageError(cli, err)
				}
			case "json":
				// docker/cli's JSON inspector: one compact array.
				if found == nil {
					found = []any{}
				}
				b, err := json.Marshal(found)
				if err != nil {
					return imageError(cli, err)
				}
				out.Write(b)
				out.WriteByte('\n')
			default:
				for _, v := range found {
					b, err := execTemplateWithFallback(t, v)
					if err != nil {
						errs = append(errs, "template parsing error: "+err.Error())
						continue
					}
					out.Write(b)
					out.WriteByte('\n')
				}
				if out.Len() == 0 {
					out.WriteByte('\n') // docker/cli prints an empty line when nothing rendered
				}
			}
			cli.Out.Write(out.Bytes())
			if len(errs) > 0 {
				fmt.Fprintln(cli.Err, strings.Join(errs, "\n"))
				return errImageReported
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

// execTemplateWithFallback runs t on the typed value v and, when that fails (a field named as
// in the JSON, such as .Id), on v's JSON form decoded into maps, where a missing key is an error:
// docker/cli does the same, so both {{.ID}} and {{.Id}} work and {{.Nope}} fails.
func execTemplateWithFallback(t *template.Template, v any) ([]byte, error) {
	var buf bytes.Buffer
	err := t.Execute(&buf, v)
	if err == nil {
		return buf.Bytes(), nil
	}
	raw, jerr := json.Marshal(v)
	if jerr != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m any
	if jerr := dec.Decode(&m); jerr != nil {
		return nil, err
	}
	strict, cerr := t.Clone()
	if cerr != nil {
		return nil, err
	}
	buf.Reset()
	if ferr := strict.Option("missingkey=error").Execute(&buf, m); ferr != nil {
		return nil, ferr
	}
	return buf.Bytes(), nil
}
