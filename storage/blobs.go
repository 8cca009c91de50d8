package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/internal/trace"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrDigestMismatch is wrapped by errors returned when content does not hash to the expected digest.
var ErrDigestMismatch = errors.New("digest mismatch")

// Store is the content and layer store under one root folder (berth's --root).
// It is safe for concurrent use by goroutines and by several berth processes.
type Store struct {
	root string
	// NoSync skips flushing written blobs and layers to disk before they become visible.
	// Only tests and benchmarks that measure the page cache should set it.
	NoSync bool
}

// Open returns the store under root, creating root/blobs and root/layers if needed.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", root, err)
	}
	s := &Store{root: filepath.Clean(abs)}
	for _, d := range []string{s.blobDir(), s.blobTmpDir(), s.layersDir(), s.lockDir("blobs"), s.lockDir("layers")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open store %s: %w", root, err)
		}
	}
	s.removeStale()
	return s, nil
}

// Root returns the folder the store lives in.
func (s *Store) Root() string { return s.root }

func (s *Store) blobDir() string            { return filepath.Join(s.root, "blobs", "sha256") }
func (s *Store) blobTmpDir() string         { return filepath.Join(s.root, "blobs", "tmp") }
func (s *Store) layersDir() string          { return filepath.Join(s.root, "layers") }
func (s *Store) lockDir(area string) string { return filepath.Join(s.root, area, ".locks") }

// checkHash refuses anything but a well-formed sha256 digest, so a hash can never name a path
// outside the store.
func checkHash(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return errdefs.Invalid(fmt.Sprintf("invalid digest %q: want sha256 and 64 hex digits", h.String()))
	}
	if _, err := hex.DecodeString(h.Hex); err != nil || strings.ToLower(h.Hex) != h.Hex {
		return errdefs.Invalid(fmt.Sprintf("invalid digest %q: want lower-case hex", h.String()))
	}
	return nil
}

// BlobPath returns where the blob with digest h is (or would be) stored. It returns "" for a
// malformed digest.
func (s *Store) BlobPath(h v1.Hash) string {
	if checkHash(h) != nil {
		return ""
	}
	return filepath.Join(s.blobDir(), h.Hex)
}

// HasBlob reports whether the blob with digest h is in the store (and therefore verified).
func (s *Store) HasBlob(h v1.Hash) bool {
	p := s.BlobPath(h)
	if p == "" {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// OpenBlob opens the blob with digest h for reading; errors.Is(err, errdefs.ErrNotFound) when absent.
func (s *Store) OpenBlob(h v1.Hash) (io.ReadCloser, error) {
	if err := checkHash(h); err != nil {
		return nil, err
	}
	f, err := os.Open(s.BlobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open blob %s: %w", h, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", h, err)
	}
	return f, nil
}

// DeleteBlob removes the blob with digest h. Removing an absent blob is not an error.
func (s *Store) DeleteBlob(h v1.Hash) error {
	if err := checkHash(h); err != nil {
		return err
	}
	if err := os.Remove(s.BlobPath(h)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", h, err)
	}
	return nil
}

// BlobSize returns the size of the stored blob with digest h.
func (s *Store) BlobSize(h v1.Hash) (int64, error) {
	if err := checkHash(h); err != nil {
		return 0, err
	}
	fi, err := os.Stat(s.BlobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("blob %s: %w", h, errdefs.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", h, err)
	}
	return fi.Size(), nil
}

// WriteBlob stores the content of r under digest h and returns its size. The content is hashed
// while it streams into a temporary file; only when it matches h is the file synced and renamed
// into place, so a wrong digest or a read error leaves nothing behind (errors.Is(err,
// ErrDigestMismatch) for the former). If the blob is already stored (perhaps written meanwhile by
// another process) r is not read and the stored size is returned.
func (s *Store) WriteBlob(h v1.Hash, r io.Reader) (int64, error) {
	w, err := s.NewBlobWriter(h)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	if w.Stored() {
		return w.Commit()
	}
	if _, err := io.CopyBuffer(writerOnly{w}, r, make([]byte, 1<<20)); err != nil {
		if w.err != nil {
			return 0, w.err
		}
		return 0, fmt.Errorf("write blob %s: %w", h, err)
	}
	return w.Commit()
}

// BlobWriter stores a blob whose content is pushed to it (Write) rather than pulled from a
// reader, so that one pass over a download can feed it and a decompressor alike. Content is
// hashed while it streams into a temporary file; Commit verifies the digest, syncs and renames
// the file into place. Close without a successful Commit removes the temporary file. While the
// writer is open it holds the blob's lock: another writer of the same blob waits, then finds it
// stored.
type BlobWriter struct {
	s      *Store
	h      v1.Hash
	lk     *lock.Lock
	f      *os.File // nil when the blob was already stored
	tmp    string
	ew     earlyWriter
	d      hash.Hash
	n      int64
	stored int64 // size of the already stored blob
	err    error // first write error
	done   bool
}

// NewBlobWriter starts storing the blob with digest h. When the blob is already stored, the
// writer discards what it is given (Stored reports it) and Commit returns the stored size.
func (s *Store) NewBlobWriter(h v1.Hash) (*BlobWriter, error) {
	if err := checkHash(h); err != nil {
		return nil, err
	}
	w := &BlobWriter{s: s, h: h}
	if n, err := s.BlobSize(h); err == nil {
		w.stored = n
		return w, nil
	}
	l, err := lock.Acquire(filepath.Join(s.lockDir("blobs"), h.Hex))
	if err != nil {
		return nil, fmt.Errorf("write blob %s: %w", h, err)
	}
	w.lk = l
	if n, err := s.BlobSize(h); err == nil {
		w.stored = n
		l.Release()
		w.lk = nil
		return w, nil
	}
	// Whoever wrote these temporaries held the lock we now hold: they are leftovers of a crash.
	if stale, _ := filepath.Glob(filepath.Join(s.blobTmpDir(), h.Hex+"-*")); len(stale) > 0 {
		for _, p := range stale {
			os.Remove(p)
		}
	}
	f, err := os.CreateTemp(s.blobTmpDir(), h.Hex+"-*")
	if err != nil {
		l.Release()
		return nil, fmt.Errorf("write blob %s: %w", h, err)
	}
	w.f, w.tmp = f, f.Name()
	w.ew = earlyWriter{f: f, enabled: !s.NoSync}
	w.d = sha256.New()
	return w, nil
}

// Stored reports whether the blob was already in the store when the writer was made: what is
// written is then discarded.
func (w *BlobWriter) Stored() bool { return w.f == nil && w.lk == nil && !w.done }

// Write hashes p and appends it to the temporary file. After a write error every later Write
// and Commit fail with it.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.f == nil {
		if w.done {
			return 0, fmt.Errorf("write blob %s: writer closed", w.h)
		}
		return len(p), nil
	}
	if w.err != nil {
		return 0, w.err
	}
	w.d.Write(p)
	n, err := w.ew.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write blob %s: %w", w.h, err)
		return n, w.err
	}
	return n, nil
}

// Check reports whether what was written so far is the complete blob: the first write error,
// or an error wrapping ErrDigestMismatch when it does not hash to the blob's digest. It stores
// nothing; a blob that was already stored checks out.
func (w *BlobWriter) Check() error {
	if w.f == nil {
		if w.done {
			return fmt.Errorf("write blob %s: writer closed", w.h)
		}
		return nil
	}
	if w.err != nil {
		return w.err
	}
	if got := hexSum(w.d); got != w.h.Hex {
		return fmt.Errorf("write blob %s: %w: content has sha256:%s", w.h, ErrDigestMismatch, got)
	}
	return nil
}

// Commit verifies that what was written hashes to the blob's digest, makes it durable and
// renames it into place, returning its size (errors.Is(err, ErrDigestMismatch) on a wrong
// digest, and nothing is stored). It releases the blob's lock; Close afterwards is a no-op.
func (w *BlobWriter) Commit() (int64, error) {
	if w.f == nil {
		if w.done {
			return 0, fmt.Errorf("write blob %s: writer closed", w.h)
		}
		w.done = true
		return w.stored, nil
	}
	f, tmp := w.f, w.tmp
	fail := func(err error) (int64, error) {
		w.abort()
		return 0, fmt.Errorf("write blob %s: %w", w.h, err)
	}
	if w.err != nil {
		w.abort()
		return 0, w.err
	}
	if got := hexSum(w.d); got != w.h.Hex {
		return fail(fmt.Errorf("%w: content has sha256:%s", ErrDigestMismatch, got))
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if !w.s.NoSync {
		if trace.On() {
			trace.Mark("blob " + w.h.Hex[:12] + ": fsync")
		}
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if trace.On() {
			trace.Mark("blob " + w.h.Hex[:12] + ": synced")
		}
	}
	w.f = nil
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		w.release()
		return 0, fmt.Errorf("write blob %s: %w", w.h, err)
	}
	if err := os.Rename(tmp, w.s.BlobPath(w.h)); err != nil {
		os.Remove(tmp)
		w.release()
		return 0, fmt.Errorf("write blob %s: %w", w.h, err)
	}
	w.release()
	return w.n, nil
}

// Close abandons an uncommitted blob: its temporary file is removed and its lock released.
func (w *BlobWriter) Close() error {
	if w.f != nil {
		w.abort()
	}
	w.release()
	return nil
}

func (w *BlobWriter) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.tmp)
		w.f = nil
	}
	w.release()
}

func (w *BlobWriter) release() {
	w.done = true
	if w.lk != nil {
		w.lk.Release()
		w.lk = nil
	}
}

func hexSum(d hash.Hash) string { return hex.EncodeToString(d.Sum(nil)) }

// writerOnly hides a writer's ReadFrom so io.CopyBuffer uses our (large) buffer.
type writerOnly struct{ io.Writer }

// Blobs lists the digests of every stored blob (in no particular order).
func (s *Store) Blobs() ([]v1.Hash, error) {
	ents, err := os.ReadDir(s.blobDir())
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	var out []v1.Hash
	for _, e := range ents {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if e.Type().IsRegular() && checkHash(h) == nil {
			out = append(out, h)
		}
	}
	return out, nil
}
