package image

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	imagetypes "github.com/docker/docker/api/types/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// chain commits, on top of parent, one image per name (each with a layer of its own, as a
// build's steps), tagging the last with ref when it is set, and returns them in order.
func chain(t *testing.T, s *Store, parent string, ref string, names ...string) []*Image {
	t.Helper()
	var out []*Image
	for i, n := range names {
		opts := CommitOptions{Config: v1.Config{Cmd: []string{n}}, CreatedBy: "step " + n}
		if i == len(names)-1 {
			opts.Ref = ref
		}
		img, err := s.Commit(context.Background(), parent, tarOf(map[string]string{n: n}), opts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, img)
		parent = img.ID
	}
	return out
}

// kinds names the records of rmi or prune, in order: "untagged REF", "imageN" (the Nth of
// imgs) or "layerN" (the layer the Nth image added).
func kinds(t *testing.T, s *Store, imgs []*Image, recs []imagetypes.DeleteResponse) []string {
	t.Helper()
	name := map[string]string{}
	for i, img := range imgs {
		name[img.ID] = fmt.Sprintf("image%d", i)
		for _, c := range img.ChainIDs {
			if _, ok := name[c.String()]; !ok {
				name[c.String()] = fmt.Sprintf("layer%d", len(img.ChainIDs)-1)
			}
		}
	}
	var out []string
	for _, r := range recs {
		switch {
		case r.Untagged != "":
			out = append(out, "untagged "+r.Untagged)
		case name[r.Deleted] != "":
			out = append(out, name[r.Deleted])
		default:
			out = append(out, "unknown "+r.Deleted)
		}
	}
	return out
}

func listIDs(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	all, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, img := range all {
		out[img.ID] = true
	}
	return out
}

func layerCount(t *testing.T, s *Store) int {
	t.Helper()
	l, err := s.storage.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

func equal(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func TestRemovePrunesParents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	base := chain(t, s, "scratch", "base", "b")
	imgs := append(base, chain(t, s, base[0].ID, "top", "s1", "s2", "s3")...)

	recs, err := s.Remove("top", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"untagged top:latest", "image3", "layer3", "image2", "layer2", "image1", "layer1"}
	if got := kinds(t, s, imgs, recs); !equal(got, want) {
		t.Errorf("rmi records %v, want %v", got, want)
	}
	if ids := listIDs(t, s); len(ids) != 1 || !ids[base[0].ID] {
		t.Errorf("images left: %v", ids)
	}
	if n := layerCount(t, s); n != 1 {
		t.Errorf("%d layers left, want the base's", n)
	}
}

func TestRemoveNoPruneAndConflicts(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	base := chain(t, s, "scratch", "base", "b")
	imgs := chain(t, s, base[0].ID, "top", "s1", "s2", "s3")

	// --no-prune: only the image goes.
	recs, err := s.Remove("top", RemoveOptions{NoPrune: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1].Deleted != imgs[2].ID {
		t.Errorf("rmi --no-prune: %v", recs)
	}
	// By ID, an image with a child is refused; by tag it is untagged and kept.
	_, err = s.Remove(imgs[0].ID, RemoveOptions{Force: true})
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != "conflict: unable to delete "+imgs[0].ID[7:19]+" (cannot be forced) - image has dependent child images" {
		t.Errorf("rmi of a parent by ID: %v", err)
	}
	if err := s.Tag(imgs[0].ID, "mid"); err != nil {
		t.Fatal(err)
	}
	recs, err = s.Remove("mid", RemoveOptions{})
	if err != nil || len(recs) != 1 || recs[0].Untagged != "mid:latest" || !listIDs(t, s)[imgs[0].ID] {
		t.Errorf("rmi of a parent by tag: %v %v", recs, err)
	}

	// A tagged parent, a parent with another child, and one a container uses stop the walk.
	if err := s.Tag(imgs[0].ID, "keep"); err != nil {
		t.Fatal(err)
	}
	other := chain(t, s, imgs[1].ID, "other", "o1")
	sibling := chain(t, s, imgs[1].ID, "", "x1")
	recs, err = s.Remove("other", RemoveOptions{})
	if err != nil || len(recs) != 3 || recs[1].Deleted != other[0].ID {
		t.Errorf("rmi beside a sibling: %v %v", recs, err)
	}
	used := func(id string) ([]ContainerUse, error) {
		if id == imgs[1].ID {
			return []ContainerUse{{ID: "c0ffee"}}, nil
		}
		return nil, nil
	}
	recs, err = s.Remove(sibling[0].ID, RemoveOptions{UsedBy: used})
	if err != nil || len(recs) != 2 || recs[0].Deleted != sibling[0].ID {
		t.Errorf("rmi of a child of a used image: %v %v", recs, err)
	}
	if ids := listIDs(t, s); len(ids) != 3 || !ids[imgs[1].ID] || !ids[imgs[0].ID] {
		t.Errorf("images left: %v", ids)
	}
	// Without the container, the next rmi of a child takes it, and stops at the tagged one.
	again := chain(t, s, imgs[1].ID, "again", "a1")
	recs, err = s.Remove("again", RemoveOptions{})
	if err != nil || len(recs) != 5 || recs[3].Deleted != imgs[1].ID {
		t.Errorf("rmi with the parent free: %v %v", recs, err)
	}
	if ids := listIDs(t, s); len(ids) != 2 || !ids[imgs[0].ID] || ids[again[0].ID] {
		t.Errorf("images left: %v", ids)
	}
}

func TestPruneChains(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	base := chain(t, s, "scratch", "base", "b")
	first := chain(t, s, base[0].ID, "app", "s1", "s2")
	// A rebuild takes the tag: the first build's chain is dangling at its leaf only.
	second := chain(t, s, base[0].ID, "app", "t1", "t2")

	f := true
	all, _ := s.List()
	dangling, err := s.Select(all, Filters{Dangling: &f})
	if err != nil || len(dangling) != 1 || dangling[0].ID != first[1].ID {
		t.Errorf("dangling images: %v %v", dangling, err)
	}
	f2 := false
	tagged, _ := s.Select(all, Filters{Dangling: &f2})
	if len(tagged) != 2 {
		t.Errorf("dangling=false: %d images", len(tagged))
	}

	recs, n, err := s.Prune(PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	imgs := append(append([]*Image{}, base...), first...)
	want := []string{"image2", "layer2", "image1", "layer1"}
	if got := kinds(t, s, imgs, recs); !equal(got, want) || n == 0 {
		t.Errorf("prune records %v (%d bytes), want %v", got, n, want)
	}
	if ids := listIDs(t, s); len(ids) != 3 || !ids[second[1].ID] {
		t.Errorf("images left: %v", ids)
	}
	// -a: every image goes, the tagged leaf's chain with it, then the base.
	recs, _, err = s.Prune(PruneOptions{All: true})
	if err != nil || len(listIDs(t, s)) != 0 || layerCount(t, s) != 0 {
		t.Errorf("prune -a: %v %v, left %v", recs, err, listIDs(t, s))
	}
}
