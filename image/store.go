package image

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/lock"
	"github.com/berth-project/berth/storage"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Store is the image index (root/images.json) over the content and layer store of one --root.
// Reads need no lock (images.json is replaced atomically); every change holds the store-wide
// index lock root/.index.lock, the same lock the runtime takes for container names.
type Store struct {
	// EventsRunRoot is the runroot whose event journal (internal/events) records what the
	// store does to images (pull, tag, delete…); "" records nothing.
	EventsRunRoot string

	root    string
	storage *storage.Store
}

// Image is one image in the store.
type Image struct {
	// ID is the config digest, "sha256:<64 hex>".
	ID string
	// RepoTags and RepoDigests are Docker's short forms: "busybox:latest", "busybox@sha256:…".
	RepoTags    []string
	RepoDigests []string
	// Created is when the image was built (from its config).
	Created time.Time
	// Config is the image's configuration file.
	Config *v1.ConfigFile
	// DiffIDs are the layers' uncompressed digests, bottom first; ChainIDs name the unpacked
	// layers in the layer store, bottom first.
	DiffIDs  []v1.Hash
	ChainIDs []v1.Hash
	// Size is the total size of the image's unpacked layers.
	Size int64
	// Layers are the stored layer blobs, bottom first.
	Layers []LayerBlob
	// Manifest is the digest of the pulled platform manifest, zero for loaded or imported images.
	Manifest v1.Hash
	// Parent is the parent image ID for images built or committed locally; empty otherwise.
	Parent string
	// Comment is the commit message given to import or commit.
	Comment string
	// LastTagTime is when a tag last pointed at the image.
	LastTagTime time.Time
	// RawConfig is the config blob as stored (its sha256 is ID).
	RawConfig []byte
}

// LayerBlob is one layer as a blob in the content store.
type LayerBlob struct {
	DiffID    v1.Hash
	Blob      v1.Hash         // digest of the stored blob (compressed as pulled, or = DiffID)
	MediaType types.MediaType // the blob's media type
	BlobSize  int64
}

// record is one image in images.json.
type record struct {
	ID          string        `json:"Id"`
	RepoTags    []string      `json:"RepoTags,omitempty"`
	RepoDigests []string      `json:"RepoDigests,omitempty"`
	Layers      []layerRecord `json:"Layers"`
	Size        int64         `json:"Size"`
	Manifest    string        `json:"Manifest,omitempty"`
	Parent      string        `json:"Parent,omitempty"`
	Comment     string        `json:"Comment,omitempty"`
	LastTagTime time.Time     `json:"LastTagTime,omitzero"`
	Added       time.Time     `json:"Added"`
}

type layerRecord struct {
	DiffID    string `json:"DiffID"`
	ChainID   string `json:"ChainID"`
	Blob      string `json:"Blob"`
	MediaType string `json:"MediaType"`
	BlobSize  int64  `json:"BlobSize"`
}

// index is images.json.
type index struct {
	Images []*record `json:"Images"`
}

// Open returns the image store of root (berth's --root), creating what is missing.
func Open(root string) (*Store, error) {
	st, err := storage.Open(root)
	if err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	return &Store{root: st.Root(), storage: st}, nil
}

// Storage returns the content and layer store underneath.
func (s *Store) Storage() *storage.Store { return s.storage }

func (s *Store) indexPath() string { return filepath.Join(s.root, "images.json") }
func (s *Store) lockPath() string  { return filepath.Join(s.root, ".index.lock") }

func (s *Store) load() (*index, error) {
	ix := &index{}
	if err := atomicfile.ReadJSON(s.indexPath(), ix); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read image index: %w", err)
	}
	return ix, nil
}

// update runs fn on images.json under the index lock and saves the result when fn succeeds.
func (s *Store) update(fn func(ix *index) error) error {
	return s.updateThen(fn, nil)
}

// updateThen is update with a step run after images.json is saved, still under the lock (the
// removal of content that the saved index no longer references).
func (s *Store) updateThen(fn func(ix *index) error, after func(ix *index) error) error {
	l, err := lock.Acquire(s.lockPath())
	if err != nil {
		return fmt.Errorf("image index: %w", err)
	}
	defer l.Release()
	ix, err := s.load()
	if err != nil {
		return err
	}
	if err := fn(ix); err != nil {
		return err
	}
	sort.SliceStable(ix.Images, func(i, j int) bool { return ix.Images[i].Added.After(ix.Images[j].Added) })
	if err := atomicfile.WriteJSON(s.indexPath(), ix); err != nil {
		return fmt.Errorf("save image index: %w", err)
	}
	if after != nil {
		return after(ix)
	}
	return nil
}

func (ix *index) byID(id string) *record {
	for _, r := range ix.Images {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// byRef finds the image carrying the familiar tag or digest reference fam.
func (ix *index) byRef(fam string) *record {
	for _, r := range ix.Images {
		for _, t := range r.RepoTags {
			if t == fam {
				return r
			}
		}
		for _, d := range r.RepoDigests {
			if d == fam {
				return r
			}
		}
	}
	return nil
}

// find resolves ref in ix as Docker does: a full ID ("sha256:…" or 64 hex), a tag or digest
// reference, then a unique ID prefix.
func (ix *index) find(ref string) (*record, error) {
	notFound := errdefs.NotFound("No such image: " + ref)
	if ref == "" {
		return nil, notFound
	}
	if h, ok := strings.CutPrefix(ref, "sha256:"); ok {
		return ix.byPrefix(ref, h, notFound)
	}
	if len(ref) == 64 && ids.IsHexPrefix(ref) {
		if r := ix.byID("sha256:" + ref); r != nil {
			return r, nil
		}
	}
	if pr, err := ParseReference(ref); err == nil {
		if r := ix.byRef(familiar(pr)); r != nil {
			return r, nil
		}
		// Docker's daemon names what it looked for: "No such image: busybox:latest".
		notFound = errdefs.NotFound("No such image: " + familiar(pr))
	}
	if ids.IsHexPrefix(ref) {
		return ix.byPrefix(ref, ref, notFound)
	}
	return nil, notFound
}

func (ix *index) byPrefix(ref, prefix string, notFound error) (*record, error) {
	if !ids.IsHexPrefix(prefix) {
		return nil, notFound
	}
	var found *record
	for _, r := range ix.Images {
		if strings.HasPrefix(strings.TrimPrefix(r.ID, "sha256:"), prefix) {
			if found != nil {
				return nil, errdefs.Invalid(fmt.Sprintf("multiple IDs found with provided prefix: %s", ref))
			}
			found = r
		}
	}
	if found == nil {
		return nil, notFound
	}
	return found, nil
}

// hasImage tells whether the image with config digest id is in the index.
func (s *Store) hasImage(id string) bool {
	ix, err := s.load()
	return err == nil && ix.byID(id) != nil
}

// Resolve finds an image by name[:tag], name@digest, full ID (with or without "sha256:") or
// unique ID prefix; errors.Is(err, errdefs.ErrNotFound) when there is none.
func (s *Store) Resolve(ref string) (*Image, error) {
	ix, err := s.load()
	if err != nil {
		return nil, err
	}
	r, err := ix.find(ref)
	if err != nil {
		return nil, err
	}
	return s.image(r)
}

// List returns every image, most recently added first.
func (s *Store) List() ([]*Image, error) {
	ix, err := s.load()
	if err != nil {
		return nil, err
	}
	out := make([]*Image, 0, len(ix.Images))
	for _, r := range ix.Images {
		img, err := s.image(r)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// Children returns the images whose parent is the image parentID, most recently added first;
// with parentID "" the images that have no parent.
func (s *Store) Children(parentID string) ([]*Image, error) {
	ix, err := s.load()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for _, r := range ix.Images {
		if r.Parent != parentID {
			continue
		}
		img, err := s.image(r)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// image loads the config of r and makes its Image.
func (s *Store) image(r *record) (*Image, error) {
	h, err := v1.NewHash(r.ID)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", r.ID, err)
	}
	rc, err := s.storage.OpenBlob(h)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ids.Truncate(r.ID), err)
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ids.Truncate(r.ID), err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ids.Truncate(r.ID), err)
	}
	img := &Image{
		ID:          r.ID,
		RepoTags:    append([]string(nil), r.RepoTags...),
		RepoDigests: append([]string(nil), r.RepoDigests...),
		Created:     cfg.Created.Time,
		Config:      cfg,
		Size:        r.Size,
		Parent:      r.Parent,
		Comment:     r.Comment,
		LastTagTime: r.LastTagTime,
		RawConfig:   raw,
	}
	if r.Manifest != "" {
		if img.Manifest, err = v1.NewHash(r.Manifest); err != nil {
			return nil, fmt.Errorf("image %s: manifest: %w", ids.Truncate(r.ID), err)
		}
	}
	for _, l := range r.Layers {
		lb, chain, err := l.parse()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ids.Truncate(r.ID), err)
		}
		img.Layers = append(img.Layers, lb)
		img.DiffIDs = append(img.DiffIDs, lb.DiffID)
		img.ChainIDs = append(img.ChainIDs, chain)
	}
	return img, nil
}

func (l layerRecord) parse() (LayerBlob, v1.Hash, error) {
	var lb LayerBlob
	var err error
	if lb.DiffID, err = v1.NewHash(l.DiffID); err != nil {
		return lb, v1.Hash{}, fmt.Errorf("layer diff ID: %w", err)
	}
	if lb.Blob, err = v1.NewHash(l.Blob); err != nil {
		return lb, v1.Hash{}, fmt.Errorf("layer blob: %w", err)
	}
	chain, err := v1.NewHash(l.ChainID)
	if err != nil {
		return lb, v1.Hash{}, fmt.Errorf("layer chain ID: %w", err)
	}
	lb.MediaType = types.MediaType(l.MediaType)
	lb.BlobSize = l.BlobSize
	return lb, chain, nil
}

// LowerDirs returns the folders of img's unpacked layers, top layer first, for an overlay mount.
func (s *Store) LowerDirs(img *Image) ([]string, error) {
	out := make([]string, 0, len(img.ChainIDs))
	for i := len(img.ChainIDs) - 1; i >= 0; i-- {
		c := img.ChainIDs[i]
		if !s.storage.HasLayer(c) {
			return nil, fmt.Errorf("image %s: layer %s is missing from the store", ids.Truncate(img.ID), c)
		}
		out = append(out, s.storage.LayerDir(c))
	}
	return out, nil
}

// chainIDs computes the chain IDs of diffIDs, bottom first.
func chainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	var parent v1.Hash
	for i, d := range diffIDs {
		parent = storage.ChainID(parent, d)
		out[i] = parent
	}
	return out
}

// commitSpec is what commit records for a newly stored image.
type commitSpec struct {
	ID       string
	Layers   []layerRecord
	Manifest string
	Parent   string
	Comment  string
	Tags     []string // familiar tag references to point at the image
	Digests  []string // familiar digest references
	// Untimed leaves LastTagTime alone: Docker stamps it when tag, import or commit name an
	// image, not when pull or load set a tag.
	Untimed bool
	// moved collects the tags taken from another image (filled by commit).
	moved []MovedTag
}

// MovedTag is a tag that moved to a new image, taken from the image OldID.
type MovedTag struct {
	Tag   string
	OldID string
}

// commit records an image whose config, layers and blobs are stored, and moves tags to it. It
// checks under the lock that every layer and the config are present (a concurrent rmi may have
// removed a shared layer since it was applied) and returns errLayerGone when one is not.
// It reports whether the first tag (or, without tags, the first digest) already named the image.
func (s *Store) commit(c *commitSpec) (upToDate bool, err error) {
	err = s.updateThen(func(ix *index) error {
		cfg, err := v1.NewHash(c.ID)
		if err != nil {
			return err
		}
		if !s.storage.HasBlob(cfg) {
			return errLayerGone
		}
		var size int64
		for _, l := range c.Layers {
			ch, err := v1.NewHash(l.ChainID)
			if err != nil {
				return err
			}
			layer, err := s.storage.Layer(ch)
			if err != nil {
				return errLayerGone
			}
			size += layer.Size
		}
		switch {
		case len(c.Tags) > 0:
			r := ix.byRef(c.Tags[0])
			upToDate = r != nil && r.ID == c.ID
		case len(c.Digests) > 0:
			r := ix.byRef(c.Digests[0])
			upToDate = r != nil && r.ID == c.ID
		}
		now := time.Now().UTC()
		r := ix.byID(c.ID)
		if r == nil {
			r = &record{ID: c.ID, Layers: c.Layers, Manifest: c.Manifest, Parent: c.Parent, Comment: c.Comment, Added: now}
			ix.Images = append(ix.Images, r)
		} else if r.Manifest == "" {
			r.Manifest = c.Manifest
			r.Layers = c.Layers
		}
		r.Size = size
		lastTagTime := r.LastTagTime
		for _, t := range c.Tags {
			if o := ix.byRef(t); o != nil && o != r && contains(o.RepoTags, t) {
				c.moved = append(c.moved, MovedTag{Tag: t, OldID: o.ID})
			}
			ix.setTag(r, t, now)
			if c.Untimed {
				r.LastTagTime = lastTagTime
			}
		}
		for _, d := range c.Digests {
			// A digest reference names one image, as in Docker's reference store: pulling
			// an index for another platform moves it to the new image.
			for _, o := range ix.Images {
				if o != r {
					o.RepoDigests = remove(o.RepoDigests, d)
				}
			}
			if !contains(r.RepoDigests, d) {
				r.RepoDigests = append(r.RepoDigests, d)
			}
		}
		return nil
	}, func(ix *index) error { return s.dropStrayManifest(ix, c.Manifest) })
	return upToDate, err
}

// dropStrayManifest deletes the stored manifest blob m when no image records it: an image
// already stored from another manifest (the same config pulled as Docker v2 and as OCI)
// keeps its first one, and nothing would ever delete the second.
func (s *Store) dropStrayManifest(ix *index, m string) error {
	if m == "" {
		return nil
	}
	for _, r := range ix.Images {
		if r.Manifest == m {
			return nil
		}
	}
	h, err := v1.NewHash(m)
	if err != nil {
		return nil
	}
	return s.storage.DeleteBlob(h)
}

var errLayerGone = errors.New("a layer was removed while the image was stored")

// setTag points the familiar tag reference at r, taking it from any other image.
func (ix *index) setTag(r *record, tag string, now time.Time) {
	for _, o := range ix.Images {
		if o != r {
			o.RepoTags = remove(o.RepoTags, tag)
		}
	}
	if !contains(r.RepoTags, tag) {
		r.RepoTags = append(r.RepoTags, tag)
	}
	r.LastTagTime = now
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Tag points target (a name[:tag] reference) at the image that source resolves to.
func (s *Store) Tag(source, target string) error {
	tr, err := ParseReference(target)
	if err != nil {
		return err
	}
	if _, ok := tr.(name.Tag); !ok {
		return errdefs.Invalid("refusing to create a tag with a digest reference")
	}
	fam := familiar(tr)
	err = s.update(func(ix *index) error {
		r, err := ix.find(source)
		if err != nil {
			return err
		}
		ix.setTag(r, fam, time.Now().UTC())
		return nil
	})
	if err != nil {
		return err
	}
	if img, err := s.Resolve(fam); err == nil {
		s.imageEvent("tag", img.ID, fam, img.Config)
	}
	return nil
}
