package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// PushOptions tune Push.
type PushOptions struct {
	// Out receives Docker's push lines (nil or Quiet: nothing).
	Out   io.Writer
	Quiet bool
}

// Push uploads the image tagged ref (name[:tag]) to its registry, as `docker push` does, and
// returns the manifest digest. A pulled image is pushed with its original manifest; a loaded
// or imported one with a Docker v2 manifest over its stored layers.
func (s *Store) Push(ctx context.Context, ref string, opts PushOptions) (v1.Hash, error) {
	out := opts.Out
	if out == nil || opts.Quiet {
		out = io.Discard
	}
	r, err := ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return v1.Hash{}, errdefs.Invalid("cannot push a digest reference")
	}
	fam := familiar(tag)
	img, err := s.Resolve(fam)
	if err != nil {
		return v1.Hash{}, errdefs.NotFound("An image does not exist locally with the tag: " + familiarRepo(tag.Context()))
	}
	insecure, err := insecureRegistry(tag.Context().RegistryStr())
	if err != nil {
		return v1.Hash{}, err
	}
	if insecure {
		if tag, err = name.NewTag(fam, name.WithDefaultRegistry(dockerHubIndex), name.Insecure); err != nil {
			return v1.Hash{}, errdefs.Invalid(errInvalidReference)
		}
	}
	fmt.Fprintf(out, "The push refers to repository [%s]\n", fullName(tag.Context()))
	reg := tag.Context().Registry
	rt, err := transport.NewWithContext(ctx, reg, authFor(reg), httpTransport, []string{tag.Scope(transport.PushScope)})
	if err != nil {
		return v1.Hash{}, pushError(err, fam, insecure)
	}
	client := &http.Client{Transport: rt}
	layers, err := s.pushLayers(ctx, client, tag.Context(), img)
	defer func() {
		for _, l := range layers {
			l.close()
		}
	}()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", fam, err)
	}
	for i := len(layers) - 1; i >= 0; i-- {
		fmt.Fprintf(out, "%s: Preparing\n", ids.Truncate(layers[i].desc.Digest.Hex))
	}
	si, err := s.v1Image(img, layers)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", fam, err)
	}
	if err := remote.Write(tag, si, remote.WithContext(ctx), remote.WithTransport(rt)); err != nil {
		return v1.Hash{}, pushError(err, fam, insecure)
	}
	for i := len(layers) - 1; i >= 0; i-- {
		status := "Pushed"
		if layers[i].exists {
			status = "Layer already exists"
		}
		fmt.Fprintf(out, "%s: %s\n", ids.Truncate(layers[i].desc.Digest.Hex), status)
	}
	d, err := si.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	raw, _ := si.RawManifest()
	fmt.Fprintf(out, "%s: digest: %s size: %d\n", tag.TagStr(), d, len(raw))
	// Record the pushed digest like a pulled one.
	err = s.update(func(ix *index) error {
		if rec := ix.byID(img.ID); rec != nil {
			dg := familiarRepo(tag.Context()) + "@" + d.String()
			if !contains(rec.RepoDigests, dg) {
				rec.RepoDigests = append(rec.RepoDigests, dg)
			}
		}
		return nil
	})
	s.refEvent("push", fam, img)
	return d, err
}

func blobExists(ctx context.Context, c *http.Client, repo name.Repository, d v1.Hash) bool {
	u := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/blobs/%s", repo.RepositoryStr(), d)}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// pushLayer is one layer as it is pushed: its blob's descriptor, whether the registry has that
// blob already, and where its bytes come from.
type pushLayer struct {
	desc     v1.Descriptor
	original bool // desc is the blob the image was pulled with
	exists   bool
	open     func() (io.ReadCloser, error)
	spool    *os.File // the compressed tar made for the push, removed by close
}

func (l *pushLayer) close() {
	if l.spool != nil {
		l.spool.Close()
		l.spool = nil
	}
}

// pushLayers decides how each layer of img is pushed to repo. The blob the layer was pulled
// with is pushed as it was where it can be: when the registry has it already, or when it is
// still stored (by an older berth). Otherwise, as Docker does, the layer's tar is made again
// from the layer store and compressed with gzip: a new blob with a new digest.
func (s *Store) pushLayers(ctx context.Context, c *http.Client, repo name.Repository, img *Image) ([]*pushLayer, error) {
	var out []*pushLayer
	for i, l := range img.Layers {
		pl := &pushLayer{original: true, desc: v1.Descriptor{MediaType: l.MediaType, Size: l.BlobSize, Digest: l.Blob}}
		out = append(out, pl)
		if pl.desc.MediaType == "" {
			pl.desc.MediaType = types.DockerUncompressedLayer
		}
		blob := l.Blob
		pl.open = func() (io.ReadCloser, error) { return s.storage.OpenBlob(blob) }
		if s.storage.HasBlob(l.Blob) {
			size, err := s.storage.BlobSize(l.Blob)
			if err != nil {
				return out, err
			}
			pl.desc.Size = size
			pl.exists = blobExists(ctx, c, repo, l.Blob)
			continue
		}
		if l.Blob != l.DiffID && l.BlobSize > 0 && blobExists(ctx, c, repo, l.Blob) {
			pl.exists = true
			continue
		}
		if err := s.compressLayer(pl, img.ChainIDs[i]); err != nil {
			return out, fmt.Errorf("layer %s: %w", l.DiffID, err)
		}
		pl.exists = blobExists(ctx, c, repo, pl.desc.Digest)
	}
	return out, nil
}

// compressLayer makes the layer's tar again, gzips it into a temporary file and points pl at it.
func (s *Store) compressLayer(pl *pushLayer, chain v1.Hash) error {
	rc, _, err := s.storage.LayerTar(chain)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := s.tempFile("push-*")
	if err != nil {
		return err
	}
	pl.spool = f
	d := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, d)}
	zw := gzip.NewWriter(cw)
	if _, err := io.CopyBuffer(zw, rc, make([]byte, 1<<20)); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	pl.original = false
	pl.desc = v1.Descriptor{MediaType: types.DockerLayer, Size: cw.n,
		Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(d.Sum(nil))}}
	pl.open = func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(f, 0, cw.n)), nil
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// storeImage presents a stored image as a go-containerregistry image (for push).
type storeImage struct {
	img      *Image
	layers   []*pushLayer
	manifest []byte
	mt       types.MediaType
}

// v1Image wraps img with the layers as pushed: its pulled manifest when that still describes
// them, else a manifest of the same kind (Docker v2 for a loaded or imported image).
func (s *Store) v1Image(img *Image, layers []*pushLayer) (v1.Image, error) {
	si := &storeImage{img: img, layers: layers}
	original := true
	for _, l := range layers {
		original = original && l.original
	}
	mt := types.DockerManifestSchema2
	if img.Manifest != (v1.Hash{}) {
		if rc, err := s.storage.OpenBlob(img.Manifest); err == nil {
			raw, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			m, err := v1.ParseManifest(bytes.NewReader(raw))
			if err == nil && m.Config.Digest.String() == img.ID && len(m.Layers) == len(img.Layers) {
				if m.MediaType == types.OCIManifestSchema1 || m.MediaType == "" {
					mt = types.OCIManifestSchema1
				}
				if original {
					si.manifest, si.mt = raw, m.MediaType
					if si.mt == "" {
						si.mt = types.OCIManifestSchema1
					}
					return partial.CompressedToImage(si)
				}
			}
		}
	}
	cfgDigest, err := v1.NewHash(img.ID)
	if err != nil {
		return nil, err
	}
	cfgType, layerType := types.DockerConfigJSON, types.DockerLayer
	if mt == types.OCIManifestSchema1 {
		cfgType, layerType = types.OCIConfigJSON, types.OCILayer
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: mt,
		Config: v1.Descriptor{MediaType: cfgType, Size: int64(len(img.RawConfig)), Digest: cfgDigest}}
	for _, l := range layers {
		d := l.desc
		if !l.original {
			d.MediaType = layerType
		}
		m.Layers = append(m.Layers, d)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	si.manifest, si.mt = raw, mt
	return partial.CompressedToImage(si)
}

func (i *storeImage) RawConfigFile() ([]byte, error)      { return i.img.RawConfig, nil }
func (i *storeImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *storeImage) RawManifest() ([]byte, error)        { return i.manifest, nil }

// LayerByDigest returns the layer whose pushed blob has digest h.
func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.layers {
		if l.desc.Digest == h {
			return &storeLayer{l: l}, nil
		}
	}
	return nil, errors.New("no layer " + h.String())
}

type storeLayer struct{ l *pushLayer }

func (l *storeLayer) Digest() (v1.Hash, error)            { return l.l.desc.Digest, nil }
func (l *storeLayer) Compressed() (io.ReadCloser, error)  { return l.l.open() }
func (l *storeLayer) Size() (int64, error)                { return l.l.desc.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.l.desc.MediaType, nil }
