package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berth-project/berth/storage"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// archiveManifest is one entry of a docker-archive's manifest.json.
type archiveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes the images that refs name to w as one docker-archive (`docker save` format:
// manifest.json, repositories, <config>.json and one tar per layer), which `docker load` and
// `berth load` read. A repository name without a tag saves every tag of that repository; an ID
// saves the image without tags.
func (s *Store) Save(refs []string, w io.Writer) error {
	type entry struct {
		img  *Image
		tags []string
	}
	var order []string
	entries := map[string]*entry{}
	add := func(img *Image, tag string) {
		e, ok := entries[img.ID]
		if !ok {
			e = &entry{img: img}
			entries[img.ID] = e
			order = append(order, img.ID)
		}
		if tag != "" && !contains(e.tags, tag) {
			e.tags = append(e.tags, tag)
		}
	}
	all, err := s.List()
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if !HasTagOrDigest(ref) && !strings.HasPrefix(ref, "sha256:") {
			if r, err := ParseReference(ref); err == nil {
				repo := familiarRepo(r.Context())
				found := false
				for _, img := range all {
					for _, t := range img.RepoTags {
						if rp, _, _ := splitFamiliar(t); rp == repo {
							add(img, t)
							found = true
						}
					}
				}
				if found {
					continue
				}
			}
		}
		img, err := s.Resolve(ref)
		if err != nil {
			return err
		}
		tag := ""
		if r, err := ParseReference(ref); err == nil {
			if t, ok := r.(name.Tag); ok && contains(img.RepoTags, familiar(t)) {
				tag = familiar(t)
			}
		}
		add(img, tag)
	}

	tw := tar.NewWriter(w)
	now := time.Now()
	written := map[string]bool{}
	var manifest []archiveManifest
	repos := map[string]map[string]string{}
	for _, id := range order {
		e := entries[id]
		hex := strings.TrimPrefix(e.img.ID, "sha256:")
		cfgName := hex + ".json"
		if !written[cfgName] {
			if err := writeTarFile(tw, cfgName, e.img.RawConfig, now); err != nil {
				return err
			}
			written[cfgName] = true
		}
		m := archiveManifest{Config: cfgName, RepoTags: e.tags}
		for i, l := range e.img.Layers {
			file, err := s.writeLayerEntry(tw, l, e.img.ChainIDs[i], written, now)
			if err != nil {
				return fmt.Errorf("save %s: %w", ids12(e.img.ID), err)
			}
			m.Layers = append(m.Layers, file)
		}
		if m.RepoTags == nil {
			m.RepoTags = []string{}
		}
		manifest = append(manifest, m)
		if len(e.img.Layers) > 0 {
			top := e.img.Layers[len(e.img.Layers)-1].Blob.Hex
			for _, t := range e.tags {
				repo, tag, _ := splitFamiliar(t)
				if repos[repo] == nil {
					repos[repo] = map[string]string{}
				}
				repos[repo][tag] = top
			}
		}
	}
	mj, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if err := writeTarFile(tw, "manifest.json", mj, now); err != nil {
		return err
	}
	if len(repos) > 0 {
		rj, err := json.Marshal(repos)
		if err != nil {
			return err
		}
		if err := writeTarFile(tw, "repositories", rj, now); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	for _, id := range order {
		s.idEvent("save", entries[id].img)
	}
	return nil
}

func ids12(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// layerExtension names a layer file by its compression, as go-containerregistry does.
func layerExtension(mt types.MediaType) string {
	switch {
	case strings.Contains(string(mt), "zstd"):
		return ".tar.zst"
	case strings.Contains(string(mt), "gzip"), mt == types.DockerLayer, mt == types.DockerForeignLayer:
		return ".tar.gz"
	}
	return ".tar"
}

func writeTarFile(tw *tar.Writer, name string, data []byte, mtime time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// writeLayerEntry writes layer l (chain ID chain) into the archive once and returns its file
// name there: the uncompressed tar "<diff ID>.tar", made again from the layer store, as `docker
// save` writes it; or, for a layer stored by an older berth, its stored blob as pulled.
func (s *Store) writeLayerEntry(tw *tar.Writer, l LayerBlob, chain v1.Hash, written map[string]bool, mtime time.Time) (string, error) {
	name := l.DiffID.Hex + ".tar"
	if written[name] {
		return name, nil
	}
	rc, size, err := s.storage.LayerTar(chain)
	if errors.Is(err, storage.ErrNoTarMeta) && s.storage.HasBlob(l.Blob) {
		name = l.Blob.Hex + layerExtension(l.MediaType)
		if written[name] {
			return name, nil
		}
		if size, err = s.storage.BlobSize(l.Blob); err == nil {
			rc, err = s.storage.OpenBlob(l.Blob)
		}
	}
	if err != nil {
		return "", err
	}
	defer rc.Close()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	if _, err := io.CopyBuffer(tw, rc, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	written[name] = true
	return name, nil
}
