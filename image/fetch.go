package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
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
// verified against its digest and unpacked (after decompression) into the layer store. The blob
// itself is not kept (as Docker's overlay2 store does not keep it): the layer store records the
// tar so that save and push can make it again (storage.LayerTar).
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

// present tells whether the layer is stored already.
func (s *Store) present(j layerJob) bool { return s.storage.HasLayer(j.chain) }

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
// is hashed (to verify the blob digest at the end) and goes on to the decompressor feeding
// ApplyLayer (which verifies the diff ID). No pipes, no hand-offs: a chunk is hashed and
// unpacked while it is still in the CPU's cache.
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
	src := &blobTee{r: body, p: p, index: j.index}
	// An uncompressed blob (loaded or imported) is its tar: ApplyLayer verifies it.
	if j.blob != j.diffID {
		src.d = sha256.New()
	}

	var applyErr error
	if !s.storage.HasLayer(j.chain) {
		dr, err := storage.Decompress(src)
		if err == nil {
			_, err = s.storage.ApplyLayer(j.parent, j.diffID, dr)
			dr.Close()
		}
		applyErr = err
	}
	// The rest of the blob (the compressor's trailer, or all of it when the layer was unpacked
	// meanwhile by another berth, or what follows a broken tar, so that a corrupt blob is
	// reported as such).
	_, _ = io.CopyBuffer(io.Discard, src, make([]byte, 64<<10))
	if src.err != nil {
		return fmt.Errorf("download %s: %w", j.blob, src.err)
	}
	if trace.On() {
		trace.Mark(fmt.Sprintf("pull: layer %d downloaded, unpacked, verified and synced", j.index))
	}
	p.update(j.index, stageDownloaded, 0)
	if src.d != nil {
		if got := hex.EncodeToString(src.d.Sum(nil)); got != j.blob.Hex {
			return fmt.Errorf("filesystem layer verification failed for digest %s: %w: content has sha256:%s",
				j.blob, storage.ErrDigestMismatch, got)
		}
	}
	switch {
	case errors.Is(applyErr, storage.ErrDigestMismatch):
		return fmt.Errorf("layer %s: content does not match diff ID %s: %w", j.blob, j.diffID, applyErr)
	case applyErr != nil:
		return fmt.Errorf("layer %s: %w", j.blob, applyErr)
	}
	p.update(j.index, stageExtracted, 0)
	p.update(j.index, stageComplete, 0)
	return nil
}

// maxBlobRead bounds one read of a blob. Big writes make the kernel fill the page cache with
// large folios, taken from free memory that a VM's host may have reclaimed and must back again:
// measured, 64 KiB writes cost less system time than 256 KiB or 1 MiB ones (which doubled it),
// and the unpacked files are written in the inflater's 32 KiB pieces for the same reason.
const maxBlobRead = 64 << 10

// blobTee reads a blob from the registry, hashing every chunk read (when d is set) and counting
// it as progress. A read error (other than EOF) is kept in err.
type blobTee struct {
	r     io.Reader
	d     hash.Hash
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
		if t.d != nil {
			t.d.Write(b[:n])
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
	f, err := s.tempFile("spool-*")
	if err != nil {
		return nil, err
	}
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

// tempFile creates an unlinked temporary file under the store's tmp folder (so it sits on the
// store's filesystem and goes away with its last descriptor).
func (s *Store) tempFile(pattern string) (*os.File, error) {
	dir := filepath.Join(s.root, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}
