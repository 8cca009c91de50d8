package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
	d := sha256.New()
	f, err := s.spool(io.TeeReader(dr, d))
	if err != nil {
		return nil, fmt.Errorf("import: reading %s: %w", opts.Source, err)
	}
	defer f.Close()
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(d.Sum(nil))}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if size == 0 {
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
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
		History:      []v1.History{{Created: v1.Time{Time: now}, Comment: msg}},
	}
	raw, err := configWithComment(&cfg, opts.Message)
	if err != nil {
		return nil, err
	}
	cfgDigest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	job := layerJob{blob: diffID, mediaType: types.DockerUncompressedLayer, size: size, diffID: diffID, chain: diffID,
		open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(f, 0, size)), nil
		}}
	if err := s.putBlob(cfgDigest, raw); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if !s.present(job) {
		if err := s.storeLayers(ctx, []layerJob{job}, noProgress{}); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
	}
	spec := commitSpec{ID: cfgDigest.String(), Layers: []layerRecord{job.record()}, Comment: opts.Message}
	if tag != "" {
		spec.Tags = []string{tag}
	}
	if _, err := s.commit(&spec); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return s.Resolve(spec.ID)
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
