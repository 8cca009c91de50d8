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
	if err := checkHash(h); err != nil {
		return 0, err
	}
	if n, err := s.BlobSize(h); err == nil {
		return n, nil
	}
	l, err := lock.Acquire(filepath.Join(s.lockDir("blobs"), h.Hex))
	if err != nil {
		return 0, fmt.Errorf("write blob %s: %w", h, err)
	}
	defer l.Release()
	if n, err := s.BlobSize(h); err == nil {
		return n, nil
	}
	// Whoever wrote these temporaries held the lock we now hold: they are leftovers of a crash.
	if stale, _ := filepath.Glob(filepath.Join(s.blobTmpDir(), h.Hex+"-*")); len(stale) > 0 {
		for _, p := range stale {
			os.Remove(p)
		}
	}
	f, err := os.CreateTemp(s.blobTmpDir(), h.Hex+"-*")
	if err != nil {
		return 0, fmt.Errorf("write blob %s: %w", h, err)
	}
	tmp := f.Name()
	fail := func(err error) (int64, error) {
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("write blob %s: %w", h, err)
	}
	d := sha256.New()
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(io.MultiWriter(&earlyWriter{f: f, enabled: !s.NoSync}, d), r, buf)
	if err != nil {
		return fail(err)
	}
	if got := hexSum(d); got != h.Hex {
		return fail(fmt.Errorf("%w: content has sha256:%s", ErrDigestMismatch, got))
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if !s.NoSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write blob %s: %w", h, err)
	}
	if err := os.Rename(tmp, s.BlobPath(h)); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write blob %s: %w", h, err)
	}
	return n, nil
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
