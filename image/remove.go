package image

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ContainerUse is a container created from an image, for the conflict checks of rmi and prune.
type ContainerUse struct {
	ID      string
	Running bool
}

// UsedByFunc lists the containers using the image with the given ID. The store calls it while
// holding the index lock, so no container can be created from the image meanwhile.
type UsedByFunc func(imageID string) ([]ContainerUse, error)

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force removes an image referenced by several tags, and untags one a stopped container uses.
	Force bool
	// UsedBy finds the containers using an image; nil means none do.
	UsedBy UsedByFunc
}

// Remove untags or deletes what ref names, as `docker rmi` does: a tag or digest reference is
// untagged, and the image deleted once nothing references it; an ID deletes the image with all
// its references. Layers and blobs go only when no remaining image uses them. It returns
// Docker's Untagged/Deleted records in order.
func (s *Store) Remove(ref string, opts RemoveOptions) ([]imagetypes.DeleteResponse, error) {
	var out []imagetypes.DeleteResponse
	var doomed *record
	img, _ := s.Resolve(ref) // for the events: the image's ID and labels before it goes
	err := s.updateThen(func(ix *index) error {
		r, err := ix.find(ref)
		if err != nil {
			if pr, perr := ParseReference(ref); perr == nil && !ids.IsHexPrefix(ref) && !strings.HasPrefix(ref, "sha256:") {
				return errdefs.NotFound("No such image: " + familiar(pr))
			}
			return err
		}
		users, err := usedBy(opts.UsedBy, r.ID)
		if err != nil {
			return err
		}
		short := ids.Truncate(r.ID)
		hex := strings.TrimPrefix(r.ID, "sha256:")
		byID := strings.HasPrefix(r.ID, ref) || strings.HasPrefix(hex, ref)
		if !byID {
			pr, _ := ParseReference(ref)
			fam := familiar(pr)
			if singleReference(r) && len(users) > 0 && !opts.Force {
				return errdefs.Conflict(fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
					ref, ids.Truncate(users[0].ID), short))
			}
			out = append(out, untag(r, fam)...)
			if len(r.RepoTags)+len(r.RepoDigests) > 0 {
				return nil
			}
		} else {
			for _, u := range users {
				if u.Running {
					return errdefs.Conflict(fmt.Sprintf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", short, ids.Truncate(u.ID)))
				}
			}
			if len(users) > 0 && !opts.Force {
				return errdefs.Conflict(fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", short, ids.Truncate(users[0].ID)))
			}
			if !singleReference(r) && !opts.Force {
				return errdefs.Conflict(fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short))
			}
			for _, t := range append(append([]string(nil), r.RepoTags...), r.RepoDigests...) {
				out = append(out, imagetypes.DeleteResponse{Untagged: t})
			}
			r.RepoTags, r.RepoDigests = nil, nil
		}
		if len(users) > 0 {
			// A stopped container still needs the image's layers: keep it, untagged.
			return nil
		}
		ix.drop(r)
		doomed = r
		out = append(out, imagetypes.DeleteResponse{Deleted: r.ID})
		return nil
	}, func(ix *index) error {
		if doomed == nil {
			return nil
		}
		deleted, _, err := s.collect(ix, doomed)
		out = append(out, deleted...)
		return err
	})
	if img != nil {
		s.removeEvents(img.ID, img.Config, out)
	}
	return out, err
}

func usedBy(f UsedByFunc, id string) ([]ContainerUse, error) {
	if f == nil {
		return nil, nil
	}
	u, err := f(id)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return u, nil
}

// untag removes the familiar reference fam from r; when a tag goes and no other tag of that
// repository remains, the repository's digest references go too (Docker's rule).
func untag(r *record, fam string) []imagetypes.DeleteResponse {
	out := []imagetypes.DeleteResponse{{Untagged: fam}}
	repo, tag, _ := splitFamiliar(fam)
	r.RepoTags = remove(r.RepoTags, fam)
	r.RepoDigests = remove(r.RepoDigests, fam)
	if tag == "" {
		return out
	}
	for _, t := range r.RepoTags {
		if rp, _, _ := splitFamiliar(t); rp == repo {
			return out
		}
	}
	for _, d := range append([]string(nil), r.RepoDigests...) {
		if rp, _, _ := splitFamiliar(d); rp == repo {
			r.RepoDigests = remove(r.RepoDigests, d)
			out = append(out, imagetypes.DeleteResponse{Untagged: d})
		}
	}
	return out
}

// singleReference tells whether r has at most one tag and all its references are in one
// repository (then deleting by ID needs no -f).
func singleReference(r *record) bool {
	if len(r.RepoTags) > 1 {
		return false
	}
	repos := map[string]bool{}
	for _, t := range append(append([]string(nil), r.RepoTags...), r.RepoDigests...) {
		repo, _, _ := splitFamiliar(t)
		repos[repo] = true
	}
	return len(repos) <= 1
}

func (ix *index) drop(r *record) {
	out := ix.Images[:0]
	for _, x := range ix.Images {
		if x != r {
			out = append(out, x)
		}
	}
	ix.Images = out
}

// collect removes the layers and blobs of the removed image gone that no image of ix uses any
// more, top layer first, and returns a Deleted record per layer and the bytes reclaimed.
func (s *Store) collect(ix *index, gone *record) ([]imagetypes.DeleteResponse, int64, error) {
	usedChains, usedBlobs := map[string]bool{}, map[string]bool{}
	for _, r := range ix.Images {
		usedBlobs[r.ID] = true
		usedBlobs[r.Manifest] = true
		for _, l := range r.Layers {
			usedChains[l.ChainID] = true
			usedBlobs[l.Blob] = true
		}
	}
	var out []imagetypes.DeleteResponse
	var reclaimed int64
	for i := len(gone.Layers) - 1; i >= 0; i-- {
		l := gone.Layers[i]
		if !usedBlobs[l.Blob] {
			if h, err := v1.NewHash(l.Blob); err == nil {
				if n, err := s.storage.BlobSize(h); err == nil {
					reclaimed += n
				}
				if err := s.storage.DeleteBlob(h); err != nil {
					return out, reclaimed, err
				}
			}
			usedBlobs[l.Blob] = true
		}
		if usedChains[l.ChainID] {
			continue
		}
		h, err := v1.NewHash(l.ChainID)
		if err != nil {
			continue
		}
		if layer, err := s.storage.Layer(h); err == nil {
			reclaimed += layer.Size
		}
		if err := s.storage.RemoveLayer(h); err != nil {
			return out, reclaimed, err
		}
		usedChains[l.ChainID] = true
		out = append(out, imagetypes.DeleteResponse{Deleted: l.ChainID})
	}
	for _, b := range []string{gone.ID, gone.Manifest} {
		if b == "" || usedBlobs[b] {
			continue
		}
		if h, err := v1.NewHash(b); err == nil {
			if err := s.storage.DeleteBlob(h); err != nil {
				return out, reclaimed, err
			}
		}
	}
	return out, reclaimed, nil
}

// PruneOptions tune Prune.
type PruneOptions struct {
	// All removes every image no container uses, not only dangling ones.
	All bool
	// Filters narrow the candidates (until, label, label!).
	Filters Filters
	// UsedBy finds the containers using an image; nil means none do.
	UsedBy UsedByFunc
}

// Prune deletes dangling images (or, with All, every image no container uses) and returns
// Docker's records and the space reclaimed.
func (s *Store) Prune(opts PruneOptions) ([]imagetypes.DeleteResponse, int64, error) {
	var until *untilFilter
	if opts.Filters.Until != "" {
		u, err := parseUntil(opts.Filters.Until)
		if err != nil {
			return nil, 0, err
		}
		until = &u
	}
	all, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	cands, err := s.Select(all, Filters{Labels: opts.Filters.Labels, NotLabels: opts.Filters.NotLabels})
	if err != nil {
		return nil, 0, err
	}
	want := map[string]bool{}
	for _, img := range cands {
		if (opts.All || len(img.RepoTags) == 0) && (until == nil || until.keep(img.Created)) {
			want[img.ID] = true
		}
	}
	var out []imagetypes.DeleteResponse
	var reclaimed int64
	var doomed []*record
	err = s.updateThen(func(ix *index) error {
		for _, r := range append([]*record(nil), ix.Images...) {
			if !want[r.ID] {
				continue
			}
			users, err := usedBy(opts.UsedBy, r.ID)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				continue
			}
			for _, t := range append(append([]string(nil), r.RepoTags...), r.RepoDigests...) {
				out = append(out, imagetypes.DeleteResponse{Untagged: t})
			}
			ix.drop(r)
			doomed = append(doomed, r)
		}
		return nil
	}, func(ix *index) error {
		for _, r := range doomed {
			out = append(out, imagetypes.DeleteResponse{Deleted: r.ID})
			d, n, err := s.collect(ix, r)
			out = append(out, d...)
			reclaimed += n
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range doomed {
		s.pruneEvents(r)
	}
	return out, reclaimed, err
}

// TagReference checks a reference that callers outside the store (commit, build) want to tag
// an image with and returns its familiar form ("busybox:latest"); digest references are refused.
func TagReference(ref string) (string, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	if _, ok := r.(name.Tag); !ok {
		return "", errdefs.Invalid("refusing to create a tag with a digest reference")
	}
	return familiar(r), nil
}
