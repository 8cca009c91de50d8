package storage

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/internal/trace"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Layer describes one unpacked layer: layers/<ChainID hex>/diff holds its files.
type Layer struct {
	// ChainID names the layer together with all layers below it (see ChainID).
	ChainID v1.Hash
	// DiffID is the sha256 of the layer's uncompressed tar.
	DiffID v1.Hash
	// Parent is the chain ID of the layer below; zero for a base layer.
	Parent v1.Hash
	// Size is the total size in bytes of the regular files in the layer.
	Size int64
}

// layerFile is layer.json on disk; a zero hash is stored as "".
type layerFile struct {
	ChainID string `json:"ChainID"`
	DiffID  string `json:"DiffID"`
	Parent  string `json:"Parent,omitempty"`
	Size    int64  `json:"Size"`
}

// ChainID returns the chain ID of a layer with the given diff ID on top of the layer whose chain
// ID is parent, as the OCI image spec defines it: a zero parent means a base layer, whose chain
// ID is its diff ID; otherwise sha256(parent + " " + diffID).
func ChainID(parent, diffID v1.Hash) v1.Hash {
	if parent == (v1.Hash{}) {
		return diffID
	}
	sum := sha256.Sum256([]byte(parent.String() + " " + diffID.String()))
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}
}

func (s *Store) layerPath(chainID v1.Hash) string { return filepath.Join(s.layersDir(), chainID.Hex) }

// LayerDir returns the folder holding the files of the layer (layers/<chainID hex>/diff), to be
// used as an overlay lowerdir. It returns "" for a malformed chain ID.
func (s *Store) LayerDir(chainID v1.Hash) string {
	if checkHash(chainID) != nil {
		return ""
	}
	return filepath.Join(s.layerPath(chainID), "diff")
}

// HasLayer reports whether the layer with this chain ID is unpacked in the store.
func (s *Store) HasLayer(chainID v1.Hash) bool {
	if checkHash(chainID) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(s.layerPath(chainID), "layer.json"))
	return err == nil
}

// Layer returns the description of the stored layer with this chain ID;
// errors.Is(err, errdefs.ErrNotFound) when it is not stored.
func (s *Store) Layer(chainID v1.Hash) (*Layer, error) {
	if err := checkHash(chainID); err != nil {
		return nil, err
	}
	var lf layerFile
	if err := atomicfile.ReadJSON(filepath.Join(s.layerPath(chainID), "layer.json"), &lf); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("layer %s: %w", chainID, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("layer %s: %w", chainID, err)
	}
	l := &Layer{Size: lf.Size}
	var err error
	if l.ChainID, err = v1.NewHash(lf.ChainID); err != nil {
		return nil, fmt.Errorf("layer %s: bad ChainID: %w", chainID, err)
	}
	if l.DiffID, err = v1.NewHash(lf.DiffID); err != nil {
		return nil, fmt.Errorf("layer %s: bad DiffID: %w", chainID, err)
	}
	if lf.Parent != "" {
		if l.Parent, err = v1.NewHash(lf.Parent); err != nil {
			return nil, fmt.Errorf("layer %s: bad Parent: %w", chainID, err)
		}
	}
	return l, nil
}

// ApplyLayer unpacks the uncompressed layer tar tarStream, whose sha256 must be diffID, as the
// layer on top of parent (a zero parent for a base layer) and returns it. The tar is unpacked
// safely (see the package documentation of Apply) into a temporary folder under layers/ while
// its digest is computed; only a complete, verified layer is renamed to layers/<chainID hex>.
// When the layer is already stored, or another process stores it first, that layer is returned
// and tarStream is left unread or discarded. Layers of one image may be applied in parallel and
// in any order: the parent need not be stored yet.
func (s *Store) ApplyLayer(parent, diffID v1.Hash, tarStream io.Reader) (*Layer, error) {
	if err := checkHash(diffID); err != nil {
		return nil, err
	}
	if parent != (v1.Hash{}) {
		if err := checkHash(parent); err != nil {
			return nil, err
		}
	}
	chainID := ChainID(parent, diffID)
	if l, err := s.Layer(chainID); err == nil {
		return l, nil
	}
	lk, err := lock.Acquire(filepath.Join(s.lockDir("layers"), chainID.Hex))
	if err != nil {
		return nil, fmt.Errorf("apply layer %s: %w", diffID, err)
	}
	defer lk.Release()
	if l, err := s.Layer(chainID); err == nil {
		return l, nil
	}
	// Temporaries for this chain ID can only be leftovers of a crash: their writer held our lock.
	if stale, _ := filepath.Glob(filepath.Join(s.layersDir(), "tmp-"+chainID.Hex+"-*")); len(stale) > 0 {
		for _, p := range stale {
			os.RemoveAll(p)
		}
	}
	tmp, err := os.MkdirTemp(s.layersDir(), "tmp-"+chainID.Hex+"-")
	if err != nil {
		return nil, fmt.Errorf("apply layer %s: %w", diffID, err)
	}
	l, err := s.applyInto(tmp, parent, diffID, chainID, tarStream)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("apply layer %s: %w", diffID, err)
	}
	if err := os.Rename(tmp, s.layerPath(chainID)); err != nil {
		os.RemoveAll(tmp)
		if existing, lerr := s.Layer(chainID); lerr == nil {
			return existing, nil
		}
		return nil, fmt.Errorf("apply layer %s: %w", diffID, err)
	}
	return l, nil
}

func (s *Store) applyInto(tmp string, parent, diffID, chainID v1.Hash, r io.Reader) (*Layer, error) {
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return nil, err
	}
	d := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(r, d), 1<<20)
	rec, err := newTarRecorder(br, tmp)
	if err != nil {
		return nil, err
	}
	size, err := apply(diff, rec, !s.NoSync, rec)
	if err != nil {
		rec.abort()
		return nil, err
	}
	// The digest covers the whole stream, including padding after the end-of-archive blocks.
	if err := rec.finish(); err != nil {
		return nil, err
	}
	if got := hexSum(d); got != diffID.Hex {
		return nil, fmt.Errorf("%w: layer content has sha256:%s", ErrDigestMismatch, got)
	}
	lf := layerFile{ChainID: chainID.String(), DiffID: diffID.String(), Size: size}
	if parent != (v1.Hash{}) {
		lf.Parent = parent.String()
	}
	if err := atomicfile.WriteJSON(filepath.Join(tmp, "layer.json"), lf); err != nil {
		return nil, err
	}
	if !s.NoSync {
		if trace.On() {
			trace.Mark("layer " + chainID.Hex[:12] + ": unpacked and verified, syncfs")
		}
		if err := syncFS(tmp); err != nil {
			return nil, err
		}
		if trace.On() {
			trace.Mark("layer " + chainID.Hex[:12] + ": synced")
		}
	}
	return &Layer{ChainID: chainID, DiffID: diffID, Parent: parent, Size: size}, nil
}

// syncFS flushes the filesystem holding dir: one syncfs instead of an fsync per file.
func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// RemoveLayer deletes the layer with this chain ID. The layer first moves aside atomically, so
// it is either fully present or gone; removing an absent layer is not an error. Callers decide,
// by reference count, when no image or container uses the layer any more.
func (s *Store) RemoveLayer(chainID v1.Hash) error {
	if err := checkHash(chainID); err != nil {
		return err
	}
	lk, err := lock.Acquire(filepath.Join(s.lockDir("layers"), chainID.Hex))
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", chainID, err)
	}
	defer lk.Release()
	doomed, err := os.MkdirTemp(s.layersDir(), "tmp-"+chainID.Hex+"-rm-")
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", chainID, err)
	}
	if err := os.Rename(s.layerPath(chainID), filepath.Join(doomed, "layer")); err != nil {
		os.Remove(doomed)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove layer %s: %w", chainID, err)
	}
	if err := os.RemoveAll(doomed); err != nil {
		return fmt.Errorf("remove layer %s: %w", chainID, err)
	}
	return nil
}

// Layers lists every layer stored (in no particular order), for reference counting and pruning.
func (s *Store) Layers() ([]*Layer, error) {
	ents, err := os.ReadDir(s.layersDir())
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	var out []*Layer
	for _, e := range ents {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if !e.IsDir() || checkHash(h) != nil {
			continue // temporaries and the lock folder
		}
		l, err := s.Layer(h)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list layers: %w", err)
		}
		out = append(out, l)
	}
	return out, nil
}
