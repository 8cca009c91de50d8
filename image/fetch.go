package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/trace"
	"github.com/berth-project/berth/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// maxParallelLayers bounds how many layers are downloaded and unpacked at once. It is above
// the layer count of most images: a layer waiting for a slot starts only when another has been
// unpacked and synced, which for a small layer means waiting for the big ones' data to reach
// the disk (its syncfs flushes the whole filesystem).
const maxParallelLayers = 8

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

// storeLayer reads the layer's blob once, in one goroutine: every chunk read from the registry
// goes to the blob writer (which hashes it and verifies the blob digest at the end) and on to
// the decompressor feeding ApplyLayer (which verifies the diff ID). No pipes, no hand-offs: a
// chunk is hashed, written and unpacked while it is still in the CPU's cache.
func (s *Store) storeLayer(ctx context.Context, j layerJob, p progress) error {
	if trace.On() {
		trace.Mark(fmt.Sprintf("pull: layer %d (%s) request", j.index, j.blob.Hex[:12]))
		defer trace.Mark(fmt.Sprintf("pull: layer %d stored", j.index))
	}
	body, err := j.open(ctx)
	if err != nil {
		return err
	}
	defer body.Close()
	if trace.On() {
		trace.Mark(fmt.Sprintf("pull: layer %d response", j.index))
	}
	bw, err := s.storage.NewBlobWriter(j.blob)
	if err != nil {
		return fmt.Errorf("layer %s: %w", j.blob, err)
	}
	defer bw.Close()
	src := &blobTee{r: body, w: bw, p: p, index: j.index}

	var applyErr error
	if !s.storage.HasLayer(j.chain) {
		dr, err := storage.Decompress(src)
		if err == nil {
			_, err = s.storage.ApplyLayer(j.parent, j.diffID, dr)
			dr.Close()
		}
		applyErr = err
	}
	// The rest of the blob (the compressor's trailer, or all of it when the layer was already
	// unpacked, or what follows a broken tar, so that a corrupt blob is reported as such).
	if !(applyErr != nil && bw.Stored()) {
		_, _ = io.CopyBuffer(io.Discard, src, make([]byte, 64<<10))
	}
	if src.err != nil {
		return fmt.Errorf("download %s: %w", j.blob, src.err)
	}
	if trace.On() {
		trace.Mark(fmt.Sprintf("pull: layer %d downloaded, unpacked, verified and synced", j.index))
	}
	p.update(j.index, stageDownloaded, 0)
	if err := bw.Check(); err != nil {
		if errors.Is(err, storage.ErrDigestMismatch) {
			return fmt.Errorf("filesystem layer verification failed for digest %s: %w", j.blob, err)
		}
		return fmt.Errorf("layer %s: %w", j.blob, err)
	}
	switch {
	case errors.Is(applyErr, storage.ErrDigestMismatch):
		return fmt.Errorf("layer %s: content does not match diff ID %s: %w", j.blob, j.diffID, applyErr)
	case applyErr != nil:
		return fmt.Errorf("layer %s: %w", j.blob, applyErr)
	}
	p.update(j.index, stageExtracted, 0)
	if _, err := bw.Commit(); err != nil {
		return fmt.Errorf("layer %s: %w", j.blob, err)
	}
	p.update(j.index, stageComplete, 0)
	return nil
}

// maxBlobRead bounds one read of a blob (and so one write of it to the store). Big writes make
// the kernel fill the page cache with large folios, taken from free memory that a VM's host may
// have reclaimed and must back again: measured, 64 KiB writes cost less system time than 256 KiB
// or 1 MiB ones (which doubled it), and the unpacked files are written in the inflater's 32 KiB
// pieces for the same reason.
const maxBlobRead = 64 << 10

// blobTee reads a blob from the registry, handing every chunk read to the blob writer and
// counting it as progress. A read error (other than EOF) is kept in err; a write error of the
// blob writer ends the stream with that error.
type blobTee struct {
	r     io.Reader
	w     *storage.BlobWriter
	p     progress
	index int
	err   error // the download's read error
}

func (t *blobTee) Read(b []byte) (int, error) {
	if len(b) > maxBlobRead {
		b = b[:maxBlobRead]
	}
	n, err := t.r.Read(b)
	if n > 0 {
		if _, werr := t.w.Write(b[:n]); werr != nil {
			return 0, werr
		}
		t.p.update(t.index, stageDownloading, int64(n))
	}
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
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
