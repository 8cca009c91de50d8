package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/berth-project/berth/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// maxParallelLayers bounds how many layers are downloaded and unpacked at once.
const maxParallelLayers = 6

// layerJob is one layer to store: its blob is read once from open and, in the same pass,
// verified into the content store and unpacked (after decompression) into the layer store.
type layerJob struct {
	index     int
	blob      v1.Hash
	mediaType types.MediaType
	size      int64 // blob size, -1 when unknown
	diffID    v1.Hash
	parent    v1.Hash // chain ID of the layer below, zero for the base layer
	chain     v1.Hash
	open      func(ctx context.Context) (io.ReadCloser, error)
}

func (j layerJob) record() layerRecord {
	return layerRecord{DiffID: j.diffID.String(), ChainID: j.chain.String(), Blob: j.blob.String(),
		MediaType: string(j.mediaType), BlobSize: j.size}
}

// present tells whether the layer's blob and unpacked layer are both stored already.
func (s *Store) present(j layerJob) bool {
	return s.storage.HasLayer(j.chain) && s.storage.HasBlob(j.blob)
}

// storeLayers stores jobs in parallel (bounded), reporting progress to p. The first failure
// cancels the others; nothing partial is left (storage only renames complete, verified content).
func (s *Store) storeLayers(ctx context.Context, jobs []layerJob, p progress) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelLayers)
	for _, j := range jobs {
		g.Go(func() error {
			if err := s.storeLayer(ctx, j, p); err != nil {
				return err
			}
			return nil
		})
	}
	return g.Wait()
}

// storeLayer reads the layer's blob once and tees it into WriteBlob (which verifies the blob
// digest) and into the decompressor feeding ApplyLayer (which verifies the diff ID).
func (s *Store) storeLayer(ctx context.Context, j layerJob, p progress) error {
	body, err := j.open(ctx)
	if err != nil {
		return err
	}
	defer body.Close()

	blobR, blobW := io.Pipe()
	tarR, tarW := io.Pipe()
	var wg sync.WaitGroup
	var blobErr, applyErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		if s.storage.HasBlob(j.blob) {
			_, blobErr = io.Copy(io.Discard, blobR)
			return
		}
		if _, blobErr = s.storage.WriteBlob(j.blob, blobR); blobErr != nil {
			blobR.CloseWithError(blobErr)
			return
		}
		_, blobErr = io.Copy(io.Discard, blobR)
	}()
	go func() {
		defer wg.Done()
		if s.storage.HasLayer(j.chain) {
			_, applyErr = io.Copy(io.Discard, tarR)
			return
		}
		dr, err := storage.Decompress(tarR)
		if err == nil {
			_, err = s.storage.ApplyLayer(j.parent, j.diffID, dr)
			dr.Close()
		}
		if err != nil {
			applyErr = err
			tarR.CloseWithError(err)
			return
		}
		p.update(j.index, stageExtracted, 0)
		_, applyErr = io.Copy(io.Discard, tarR)
	}()

	w := &progressWriter{w: io.MultiWriter(blobW, tarW), p: p, index: j.index}
	_, copyErr := io.CopyBuffer(w, body, make([]byte, 256<<10))
	if copyErr != nil {
		copyErr = fmt.Errorf("download %s: %w", j.blob, copyErr)
	} else {
		p.update(j.index, stageDownloaded, 0)
	}
	blobW.CloseWithError(copyErr)
	tarW.CloseWithError(copyErr)
	wg.Wait()
	switch {
	case errors.Is(blobErr, storage.ErrDigestMismatch):
		return fmt.Errorf("filesystem layer verification failed for digest %s: %w", j.blob, blobErr)
	case blobErr != nil:
		return fmt.Errorf("layer %s: %w", j.blob, blobErr)
	case errors.Is(applyErr, storage.ErrDigestMismatch):
		return fmt.Errorf("layer %s: content does not match diff ID %s: %w", j.blob, j.diffID, applyErr)
	case applyErr != nil:
		return fmt.Errorf("layer %s: %w", j.blob, applyErr)
	case copyErr != nil:
		return copyErr
	}
	p.update(j.index, stageComplete, 0)
	return nil
}

type progressWriter struct {
	w     io.Writer
	p     progress
	index int
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.update(pw.index, stageDownloading, int64(n))
	return n, err
}

// putBlob stores small content (a config) under its digest.
func (s *Store) putBlob(h v1.Hash, data []byte) error {
	if s.storage.HasBlob(h) {
		return nil
	}
	_, err := s.storage.WriteBlob(h, bytes.NewReader(data))
	return err
}

// spool copies r into a temporary file under the store (so it sits on the same filesystem)
// and returns it rewound; the caller closes and removes it.
func (s *Store) spool(r io.Reader) (*os.File, error) {
	dir := filepath.Join(s.root, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if _, err := io.CopyBuffer(f, r, make([]byte, 1<<20)); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
