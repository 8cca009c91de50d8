package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
	si, err := s.v1Image(img)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", fam, err)
	}
	reg := tag.Context().Registry
	rt, err := transport.NewWithContext(ctx, reg, authFor(reg), httpTransport, []string{tag.Scope(transport.PushScope)})
	if err != nil {
		return v1.Hash{}, registryError(err, fam, insecure)
	}
	client := &http.Client{Transport: rt}
	exists := make([]bool, len(img.Layers))
	for i := len(img.Layers) - 1; i >= 0; i-- {
		exists[i] = blobExists(ctx, client, tag.Context(), img.Layers[i].Blob)
		fmt.Fprintf(out, "%s: Preparing\n", ids.Truncate(img.Layers[i].Blob.Hex))
	}
	if err := remote.Write(tag, si, remote.WithContext(ctx), remote.WithTransport(rt)); err != nil {
		return v1.Hash{}, registryError(err, fam, insecure)
	}
	for i := len(img.Layers) - 1; i >= 0; i-- {
		status := "Pushed"
		if exists[i] {
			status = "Layer already exists"
		}
		fmt.Fprintf(out, "%s: %s\n", ids.Truncate(img.Layers[i].Blob.Hex), status)
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

// storeImage presents a stored image as a go-containerregistry image (for push).
type storeImage struct {
	s        *Store
	img      *Image
	manifest []byte
	mt       types.MediaType
}

// v1Image wraps img: its pulled manifest when stored, else a Docker v2 manifest.
func (s *Store) v1Image(img *Image) (v1.Image, error) {
	si := &storeImage{s: s, img: img}
	if img.Manifest != (v1.Hash{}) {
		if rc, err := s.storage.OpenBlob(img.Manifest); err == nil {
			raw, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			m, err := v1.ParseManifest(bytes.NewReader(raw))
			if err == nil && m.Config.Digest.String() == img.ID && len(m.Layers) == len(img.Layers) {
				si.manifest, si.mt = raw, m.MediaType
				if si.mt == "" {
					si.mt = types.OCIManifestSchema1
				}
				return partial.CompressedToImage(si)
			}
		}
	}
	cfgDigest, err := v1.NewHash(img.ID)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(img.RawConfig)), Digest: cfgDigest}}
	for _, l := range img.Layers {
		size, err := s.storage.BlobSize(l.Blob)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Blob, err)
		}
		mt := l.MediaType
		if mt == "" {
			mt = types.DockerUncompressedLayer
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Size: size, Digest: l.Blob})
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	si.manifest, si.mt = raw, types.DockerManifestSchema2
	return partial.CompressedToImage(si)
}

func (i *storeImage) RawConfigFile() ([]byte, error)      { return i.img.RawConfig, nil }
func (i *storeImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *storeImage) RawManifest() ([]byte, error)        { return i.manifest, nil }

// LayerByDigest returns the stored blob with digest h.
func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.img.Layers {
		if l.Blob == h {
			return &storeLayer{s: i.s, blob: l}, nil
		}
	}
	return nil, errors.New("no layer " + h.String())
}

type storeLayer struct {
	s    *Store
	blob LayerBlob
}

func (l *storeLayer) Digest() (v1.Hash, error)            { return l.blob.Blob, nil }
func (l *storeLayer) Compressed() (io.ReadCloser, error)  { return l.s.storage.OpenBlob(l.blob.Blob) }
func (l *storeLayer) Size() (int64, error)                { return l.s.storage.BlobSize(l.blob.Blob) }
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.blob.MediaType, nil }
