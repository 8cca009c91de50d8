package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/berth-project/berth/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// emptyTarDiffID is the diff ID of a tar with no entries (its 1024 zero bytes of end blocks):
// as in Docker, a committed layer with this diff ID is an empty layer and is not added.
var emptyTarDiffID = v1.Hash{Algorithm: "sha256", Hex: "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"}

// CommitOptions tune Commit.
type CommitOptions struct {
	Ref        string    // repository[:tag] to point at the new image; "" for none
	Config     v1.Config // the new image's config (the caller starts from the container's or parent's)
	Author     string    // the image's "author"
	Message    string    // the image's "comment" and the history entry's comment
	CreatedBy  string    // the history entry's created_by
	EmptyLayer bool      // no new layer: a metadata-only step (build's ENV, CMD, ...); writeLayer is not called
	Container  string    // ID of the container committed, Docker's "container" config field ("" for none)
}

// Commit makes a new image on top of the image parentID ("" or "scratch": no parent) with one new
// layer, the uncompressed tar that writeLayer writes, and returns it. The new image's config
// keeps the parent's rootfs diff IDs and history and appends the new layer and a history entry.
// A layer tar with no entries is not added (the history entry is marked empty_layer), as Docker
// does for a container without changes.
func (s *Store) Commit(ctx context.Context, parentID string, writeLayer func(io.Writer) error, opts CommitOptions) (*Image, error) {
	var tag string
	if opts.Ref != "" {
		t, err := TagReference(opts.Ref)
		if err != nil {
			return nil, err
		}
		tag = t
	}
	var parent *Image
	if parentID != "" && parentID != "scratch" {
		p, err := s.Resolve(parentID)
		if err != nil {
			return nil, fmt.Errorf("commit: parent image: %w", err)
		}
		parent = p
	}

	var layer *spooledLayer
	if !opts.EmptyLayer {
		if writeLayer == nil {
			return nil, errors.New("commit: no layer writer")
		}
		l, err := s.spoolLayer(writeLayer)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		defer l.Close()
		if l.diffID == emptyTarDiffID {
			l.Close()
		} else {
			layer = l
		}
	}

	now := time.Now().UTC()
	cfg := v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           runtime.GOOS,
		Author:       opts.Author,
		Container:    opts.Container,
		Created:      v1.Time{Time: now},
		Config:       opts.Config,
		RootFS:       v1.RootFS{Type: "layers"},
	}
	var records []layerRecord
	var parentChain v1.Hash
	if parent != nil {
		if pc := parent.Config; pc != nil {
			cfg.Architecture, cfg.Variant, cfg.OS = pc.Architecture, pc.Variant, pc.OS
			cfg.OSVersion, cfg.OSFeatures = pc.OSVersion, pc.OSFeatures
			cfg.History = append(cfg.History, pc.History...)
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, parent.DiffIDs...)
		records = parent.layerRecords()
		if n := len(parent.ChainIDs); n > 0 {
			parentChain = parent.ChainIDs[n-1]
		}
	}
	cfg.History = append(cfg.History, v1.History{
		Created: v1.Time{Time: now}, CreatedBy: opts.CreatedBy, Author: opts.Author,
		Comment: opts.Message, EmptyLayer: layer == nil,
	})
	if layer != nil {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, layer.diffID)
		job, err := s.storeSpooled(ctx, layer, parentChain)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		records = append(records, job.record())
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	spec := commitSpec{Layers: records, Comment: opts.Message}
	if parent != nil {
		spec.Parent = parent.ID
	}
	if tag != "" {
		spec.Tags = []string{tag}
	}
	img, err := s.recordImage(&cfg, opts.Message, &spec)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return img, nil
}

// layerRecords returns img's layers as images.json records, bottom first.
func (img *Image) layerRecords() []layerRecord {
	out := make([]layerRecord, 0, len(img.Layers))
	for i, l := range img.Layers {
		out = append(out, layerRecord{DiffID: l.DiffID.String(), ChainID: img.ChainIDs[i].String(),
			Blob: l.Blob.String(), MediaType: string(l.MediaType), BlobSize: l.BlobSize})
	}
	return out
}

// spooledLayer is an uncompressed layer tar held in an unlinked temporary file.
type spooledLayer struct {
	f      *os.File
	diffID v1.Hash
	size   int64
}

// Close releases the temporary file; it may be called more than once.
func (l *spooledLayer) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// spoolLayer runs write into an unlinked temporary file under the store, computing the tar's
// diff ID on the way.
func (s *Store) spoolLayer(write func(io.Writer) error) (*spooledLayer, error) {
	f, err := s.tempFile("layer-*")
	if err != nil {
		return nil, err
	}
	d := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, d), 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &spooledLayer{f: f, diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(d.Sum(nil))}, size: size}, nil
}

// storeSpooled unpacks the spooled layer into the layer store on top of the layer whose chain
// ID is parent (zero for a base layer) and returns its job, whose record names it.
func (s *Store) storeSpooled(ctx context.Context, l *spooledLayer, parent v1.Hash) (layerJob, error) {
	f, size := l.f, l.size
	job := layerJob{blob: l.diffID, mediaType: types.DockerUncompressedLayer, size: size, diffID: l.diffID,
		parent: parent, chain: storage.ChainID(parent, l.diffID),
		open: func(ctx context.Context) (io.ReadCloser, error) {
			return io.NopCloser(ctxReader{ctx, io.NewSectionReader(f, 0, size)}), nil
		}}
	if s.present(job) {
		return job, nil
	}
	if err := s.storeLayers(ctx, []layerJob{job}, noProgress{}); err != nil {
		if ctx.Err() != nil {
			return job, ctx.Err()
		}
		return job, err
	}
	return job, nil
}

// ctxReader fails its reads once ctx is done: an interrupted import or commit stops unpacking.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// recordImage stores cfg (with Docker's top-level "comment" when comment is set) as the config
// blob and records the image spec describes (its ID is filled here), then returns it.
func (s *Store) recordImage(cfg *v1.ConfigFile, comment string, spec *commitSpec) (*Image, error) {
	raw, err := configWithComment(cfg, comment)
	if err != nil {
		return nil, err
	}
	cfgDigest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if err := s.putBlob(cfgDigest, raw); err != nil {
		return nil, err
	}
	spec.ID = cfgDigest.String()
	if _, err := s.commit(spec); err != nil {
		if errors.Is(err, errLayerGone) {
			return nil, fmt.Errorf("%w (was the parent image removed?)", err)
		}
		return nil, err
	}
	return s.Resolve(spec.ID)
}
