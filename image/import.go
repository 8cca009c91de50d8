package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Ref is the optional repository[:tag] to tag the image with.
	Ref string
	// Changes are Dockerfile instructions applied to the config (see ApplyChanges).
	Changes []string
	// Message is the commit message; empty means "Imported from <Source>".
	Message string
	// Source names where the tarball came from ("-", a file, a URL), for the history.
	Source string
	// Platform is "os/arch[/variant]" of the image; empty means the host's.
	Platform string
}

// Import makes a one-layer image from a filesystem tarball (plain, gzip, bzip2 or zstd), as
// `docker import` does, and returns it.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*Image, error) {
	var tag string
	if opts.Ref != "" {
		t, err := TagReference(opts.Ref)
		if err != nil {
			return nil, err
		}
		tag = t
	}
	platform, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	var cfgCore v1.Config
	if err := ApplyChanges(&cfgCore, opts.Changes); err != nil {
		return nil, err
	}
	dr, err := storage.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer dr.Close()
	layer, err := s.spoolLayer(func(w io.Writer) error {
		_, err := io.CopyBuffer(w, dr, make([]byte, 1<<20))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("import: reading %s: %w", opts.Source, err)
	}
	defer layer.Close()
	if layer.size == 0 {
		return nil, errdefs.Invalid("import: the tarball is empty")
	}

	msg := opts.Message
	if msg == "" {
		msg = "Imported from " + opts.Source
	}
	now := time.Now().UTC()
	cfg := v1.ConfigFile{
		Architecture: platform.Architecture,
		Variant:      platform.Variant,
		OS:           platform.OS,
		Created:      v1.Time{Time: now},
		Config:       cfgCore,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layer.diffID}},
		History:      []v1.History{{Created: v1.Time{Time: now}, Comment: msg}},
	}
	job, err := s.storeSpooled(ctx, layer, v1.Hash{})
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	spec := commitSpec{Layers: []layerRecord{job.record()}, Comment: opts.Message}
	if tag != "" {
		spec.Tags = []string{tag}
	}
	img, err := s.recordImage(&cfg, opts.Message, &spec)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	s.idEvent("import", img)
	return img, nil
}

// configWithComment marshals cfg with Docker's top-level "comment" field when there is one.
func configWithComment(cfg *v1.ConfigFile, comment string) ([]byte, error) {
	raw, err := json.Marshal(cfg)
	if err != nil || comment == "" {
		return raw, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["comment"] = comment
	return json.Marshal(m)
}
