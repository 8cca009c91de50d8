package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LoadResult is what Load stored: the tags it set (familiar form) and the IDs of the images
// that came without a tag.
type LoadResult struct {
	Tags []string
	IDs  []string
	// Moved are tags that pointed at another image before the load.
	Moved []MovedTag
}

// archiveFile is a regular file inside the spooled archive.
type archiveFile struct{ off, size int64 }

type archive struct {
	f     *os.File
	files map[string]archiveFile
}

func (a *archive) open(name string) (*io.SectionReader, error) {
	e, ok := a.files[path.Clean(name)]
	if !ok {
		return nil, errdefs.Invalid(fmt.Sprintf("invalid archive: %s is missing", name))
	}
	return io.NewSectionReader(a.f, e.off, e.size), nil
}

func (a *archive) read(name string, limit int64) ([]byte, error) {
	r, err := a.open(name)
	if err != nil {
		return nil, err
	}
	if r.Size() > limit {
		return nil, errdefs.Invalid(fmt.Sprintf("invalid archive: %s is too large", name))
	}
	return io.ReadAll(r)
}

// Load reads a docker-archive (`docker save`) or an OCI image layout archive from r and stores
// its images. The archive is spooled to a temporary file first (it may come from a pipe and its
// index may come last); nothing of an image is recorded unless all of it is stored.
func (s *Store) Load(ctx context.Context, r io.Reader) (*LoadResult, error) {
	f, err := s.spool(r)
	if err != nil {
		return nil, fmt.Errorf("load: reading archive: %w", err)
	}
	defer f.Close()
	a := &archive{f: f, files: map[string]archiveFile{}}
	links := map[string]string{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid archive: %v", err))
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			// `docker save` before Docker 25 links a layer shared by two images.
			target := hdr.Linkname
			if hdr.Typeflag == tar.TypeSymlink {
				target = path.Join(path.Dir(hdr.Name), target)
			}
			links[path.Clean(strings.TrimPrefix(hdr.Name, "./"))] = path.Clean(strings.TrimPrefix(target, "./"))
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		a.files[path.Clean(strings.TrimPrefix(hdr.Name, "./"))] = archiveFile{off: off, size: hdr.Size}
	}
	for name, target := range links {
		for i := 0; i < 8; i++ { // links to links, a few deep
			if next, ok := links[target]; ok {
				target = next
			}
		}
		if e, ok := a.files[target]; ok {
			a.files[name] = e
		}
	}
	if _, ok := a.files["manifest.json"]; ok {
		return s.loadDocker(ctx, a)
	}
	if _, ok := a.files["index.json"]; ok {
		return s.loadOCI(ctx, a)
	}
	return nil, errdefs.Invalid("invalid archive: neither manifest.json (docker-archive) nor index.json (OCI layout) found")
}

func (s *Store) loadDocker(ctx context.Context, a *archive) (*LoadResult, error) {
	data, err := a.read("manifest.json", 64<<20)
	if err != nil {
		return nil, err
	}
	var ms []archiveManifest
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, errdefs.Invalid(fmt.Sprintf("invalid archive: manifest.json: %v", err))
	}
	res := &LoadResult{}
	for _, m := range ms {
		raw, err := a.read(m.Config, maxConfigSize)
		if err != nil {
			return nil, err
		}
		var tags []string
		for _, t := range m.RepoTags {
			fam, err := TagReference(t)
			if err != nil {
				return nil, fmt.Errorf("load: tag %q: %w", t, err)
			}
			tags = append(tags, fam)
		}
		var opens []func(context.Context) (io.ReadCloser, error)
		for _, l := range m.Layers {
			sr, err := a.open(l)
			if err != nil {
				return nil, err
			}
			opens = append(opens, func(context.Context) (io.ReadCloser, error) {
				rc, err := storage.Decompress(io.NewSectionReader(sr, 0, sr.Size()))
				if err != nil {
					return nil, fmt.Errorf("layer %s: %w", l, err)
				}
				return rc, nil
			})
		}
		id, err := s.storeLoaded(ctx, res, raw, opens, nil, tags)
		if err != nil {
			return nil, err
		}
		if len(tags) == 0 {
			res.IDs = append(res.IDs, id)
		}
		res.Tags = append(res.Tags, tags...)
	}
	return res, nil
}

// storeLoaded stores one image from an archive. Without blobs, each layer is stored
// uncompressed (blob = diff ID); with blobs (OCI layouts) as the archive holds it.
func (s *Store) storeLoaded(ctx context.Context, res *LoadResult, raw []byte, opens []func(context.Context) (io.ReadCloser, error), blobs []v1.Descriptor, tags []string) (string, error) {
	cfgDigest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return "", errdefs.Invalid(fmt.Sprintf("invalid archive: config %s: %v", cfgDigest, err))
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != len(opens) {
		return "", errdefs.Invalid(fmt.Sprintf("invalid archive: image %s has %d layers but its config lists %d", ids12(cfgDigest.String()), len(opens), len(diffIDs)))
	}
	chains := chainIDs(diffIDs)
	var jobs []layerJob
	var records []layerRecord
	for i := range opens {
		j := layerJob{index: i, blob: diffIDs[i], mediaType: types.DockerUncompressedLayer, size: -1, diffID: diffIDs[i], chain: chains[i], open: opens[i]}
		if blobs != nil {
			j.blob, j.mediaType, j.size = blobs[i].Digest, blobs[i].MediaType, blobs[i].Size
		}
		if i > 0 {
			j.parent = chains[i-1]
		}
		if !s.present(j) {
			jobs = append(jobs, j)
		}
		records = append(records, j.record())
	}
	if err := s.putBlob(cfgDigest, raw); err != nil {
		return "", err
	}
	if err := s.storeLayers(ctx, jobs, noProgress{}); err != nil {
		return "", fmt.Errorf("load: %w", err)
	}
	spec := commitSpec{ID: cfgDigest.String(), Layers: records, Tags: tags, Untimed: true}
	if _, err := s.commit(&spec); err != nil {
		if errors.Is(err, errLayerGone) {
			return s.storeLoaded(ctx, res, raw, opens, blobs, tags)
		}
		return "", err
	}
	res.Moved = append(res.Moved, spec.moved...)
	s.imageEvent("load", spec.ID, spec.ID, cfg)
	return spec.ID, nil
}

func (s *Store) loadOCI(ctx context.Context, a *archive) (*LoadResult, error) {
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
	data, err := a.read("index.json", 64<<20)
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(data))
	if err != nil {
		return nil, errdefs.Invalid(fmt.Sprintf("invalid archive: index.json: %v", err))
	}
	res := &LoadResult{}
	host := HostPlatform()
	for _, d := range idx.Manifests {
		tag := ociTag(d.Annotations)
		desc := d
		if d.MediaType.IsIndex() {
			raw, err := a.read(blob(d.Digest), 64<<20)
			if err != nil {
				return nil, err
			}
			child, err := selectManifest(raw, host)
			if err != nil {
				return nil, err
			}
			desc = v1.Descriptor{Digest: child, MediaType: types.OCIManifestSchema1}
		} else if !d.MediaType.IsImage() {
			continue
		}
		raw, err := a.read(blob(desc.Digest), 64<<20)
		if err != nil {
			return nil, err
		}
		if got, _, err := v1.SHA256(bytes.NewReader(raw)); err != nil || got != desc.Digest {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid archive: manifest %s does not match its digest", desc.Digest))
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid archive: manifest %s: %v", desc.Digest, err))
		}
		cfgRaw, err := a.read(blob(m.Config.Digest), maxConfigSize)
		if err != nil {
			return nil, err
		}
		var opens []func(context.Context) (io.ReadCloser, error)
		for _, l := range m.Layers {
			sr, err := a.open(blob(l.Digest))
			if err != nil {
				return nil, err
			}
			opens = append(opens, func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(sr, 0, sr.Size())), nil
			})
		}
		var tags []string
		if tag != "" {
			tags = []string{tag}
		}
		id, err := s.storeLoaded(ctx, res, cfgRaw, opens, m.Layers, tags)
		if err != nil {
			return nil, err
		}
		if tag == "" {
			res.IDs = append(res.IDs, id)
		}
		res.Tags = append(res.Tags, tags...)
	}
	if len(res.Tags)+len(res.IDs) == 0 {
		return nil, errdefs.Invalid("invalid archive: index.json lists no image")
	}
	return res, nil
}

// ociTag finds the image name in an OCI index entry's annotations: containerd's full name, or
// a ref.name that is a whole reference (a bare tag names no repository).
func ociTag(ann map[string]string) string {
	for _, k := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
		v := ann[k]
		if v == "" || (k == "org.opencontainers.image.ref.name" && !strings.ContainsAny(v, "/:")) {
			continue
		}
		if fam, err := TagReference(v); err == nil {
			return fam
		}
	}
	return ""
}
