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
	// NoPrune keeps the removed image's untagged parents (rmi --no-prune). By default each
	// parent that has no reference, no other child image and no container goes too, as in
	// Docker: the intermediate images of a build go with the image built.
	NoPrune bool
	// UsedBy finds the containers using an image; nil means none do.
	UsedBy UsedByFunc
}

// Remove untags or deletes what ref names, as `docker rmi` does: a tag or digest reference is
// untagged, and the image deleted once nothing references it; an ID deletes the image with all
// its references. An image that is the parent of another is kept untagged when its last
// reference goes, and refused by ID. Then, unless NoPrune, its untagged parents that nothing
// else needs are deleted, child first. Layers and blobs go only when no remaining image uses
// them. It returns Docker's Untagged/Deleted records in order.
func (s *Store) Remove(ref string, opts RemoveOptions) ([]imagetypes.DeleteResponse, error) {
	var out []imagetypes.DeleteResponse
	var doomed []*record
	saved := false           // images.json no longer has the doomed images
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
			if len(r.RepoTags)+len(r.RepoDigests) > 0 || ix.hasChildren(r.ID) {
				// Still referenced, or the parent of another image: Docker keeps it quietly.
				return nil
			}
		} else {
			if ix.hasChildren(r.ID) {
				return errdefs.Conflict(fmt.Sprintf("conflict: unable to delete %s (cannot be forced) - image has dependent child images", short))
			}
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
		doomed = []*record{r}
		if opts.NoPrune {
			return nil
		}
		parents, err := ix.dropParents(r, opts.UsedBy)
		doomed = append(doomed, parents...)
		return err
	}, func(ix *index) error {
		saved = true
		_, err := s.collectAll(ix, doomed, func(_ int, d []imagetypes.DeleteResponse) { out = append(out, d...) })
		return err
	})
	if err != nil && !saved {
		out = nil // nothing changed
	}
	if img != nil {
		s.removeEvents(img.ID, img.Config, out)
	}
	for _, r := range doomed {
		if saved && (img == nil || r.ID != img.ID) {
			s.imageEvent("delete", r.ID, r.ID, nil)
		}
	}
	return out, err
}

// hasChildren tells whether an image of ix has the image id as its parent.
func (ix *index) hasChildren(id string) bool {
	for _, r := range ix.Images {
		if r.Parent == id {
			return true
		}
	}
	return false
}

// dropParents drops from ix the parents of the dropped image r that nothing needs any more,
// nearest first, and returns them: it walks r's parent chain up to the first parent that has a
// reference, another child image, or a container (Docker's quiet pruning of rmi).
func (ix *index) dropParents(r *record, used UsedByFunc) ([]*record, error) {
	var out []*record
	for p := ix.byID(r.Parent); p != nil; p = ix.byID(p.Parent) {
		if len(p.RepoTags)+len(p.RepoDigests) > 0 || ix.hasChildren(p.ID) {
			break
		}
		users, err := usedBy(used, p.ID)
		if err != nil {
			return out, err
		}
		if len(users) > 0 {
			break
		}
		ix.drop(p)
		out = append(out, p)
	}
	return out, nil
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

// collectAll removes the content of the images gone, dropped from ix, one after the other as
// Docker's daemon deletes them: the images after one still use their layers, so a layer shared
// along a build's chain goes with the last image that had it. For each image it passes emit the
// index in gone, the image's Deleted record and one per layer removed, and it returns the bytes
// reclaimed.
func (s *Store) collectAll(ix *index, gone []*record, emit func(i int, deleted []imagetypes.DeleteResponse)) (int64, error) {
	var reclaimed int64
	for i, r := range gone {
		remaining := append(append([]*record(nil), ix.Images...), gone[i+1:]...)
		d, n, err := s.collect(remaining, r)
		emit(i, append([]imagetypes.DeleteResponse{{Deleted: r.ID}}, d...))
		reclaimed += n
		if err != nil {
			return reclaimed, err
		}
	}
	return reclaimed, nil
}

// collect removes the layers and blobs of the removed image gone that none of the images
// remaining uses, top layer first, and returns a Deleted record per layer and the bytes
// reclaimed.
func (s *Store) collect(remaining []*record, gone *record) ([]imagetypes.DeleteResponse, int64, error) {
	usedChains, usedBlobs := map[string]bool{}, map[string]bool{}
	for _, r := range remaining {
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

// Prune deletes dangling images (untagged, and the parent of no other image) or, with All,
// every image no container uses, as Docker's daemon: each with its untagged parents that
// nothing else needs (the intermediate images of a build), which the filters do not restrict.
// An untagged image that is the parent of another goes only with its child; with All, a tagged
// one is untagged and kept while it has children. It returns Docker's records and the space
// reclaimed.
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
	// step is one candidate's removal: the references it lost, and the images that went (the
	// candidate and its pruned parents; none when it was only untagged).
	type step struct {
		untagged []imagetypes.DeleteResponse
		gone     []*record
		id       string
	}
	var steps []step
	saved := false
	var out []imagetypes.DeleteResponse
	var reclaimed int64
	err = s.updateThen(func(ix *index) error {
		for _, r := range append([]*record(nil), ix.Images...) {
			if !want[r.ID] || ix.byID(r.ID) == nil { // dropped already, as a parent
				continue
			}
			refs := len(r.RepoTags) + len(r.RepoDigests)
			if ix.hasChildren(r.ID) && (!opts.All || refs == 0) {
				continue // an intermediate image: it goes with its last child
			}
			users, err := usedBy(opts.UsedBy, r.ID)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				continue
			}
			st := step{id: r.ID}
			for _, t := range append(append([]string(nil), r.RepoTags...), r.RepoDigests...) {
				st.untagged = append(st.untagged, imagetypes.DeleteResponse{Untagged: t})
			}
			r.RepoTags, r.RepoDigests = nil, nil
			if !ix.hasChildren(r.ID) {
				ix.drop(r)
				parents, err := ix.dropParents(r, opts.UsedBy)
				if err != nil {
					return err
				}
				st.gone = append([]*record{r}, parents...)
			}
			steps = append(steps, st)
		}
		return nil
	}, func(ix *index) error {
		saved = true
		// One pass over every image that goes, so that a layer shared with the image of a
		// later step stays until that one goes; each step's untagged records come first.
		var gone []*record
		var owner []int
		for i, st := range steps {
			for _, r := range st.gone {
				gone = append(gone, r)
				owner = append(owner, i)
			}
		}
		next := 0
		flush := func(upto int) {
			for ; next <= upto; next++ {
				out = append(out, steps[next].untagged...)
			}
		}
		n, err := s.collectAll(ix, gone, func(i int, d []imagetypes.DeleteResponse) {
			flush(owner[i])
			out = append(out, d...)
		})
		reclaimed = n
		flush(len(steps) - 1)
		return err
	})
	for _, st := range steps {
		if !saved {
			break
		}
		for range st.untagged {
			s.imageEvent("untag", st.id, st.id, nil)
		}
		for _, r := range st.gone {
			s.imageEvent("delete", r.ID, r.ID, nil)
		}
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
