package build

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/berth-project/berth/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// probeCache is the classic builder's cache: before a step runs, it looks for an image an
// earlier build made with this step on the same image, that is a child of st's image (or, on
// scratch, an image without parent and with one history entry) whose history entry reads
// createdBy and whose config and author are the ones the step commits. On a hit it prints
// Docker's " ---> Using cache" and moves st onto that image (the newest of several), and the
// step does nothing more.
//
// createdBy carries what else decides a step's result: RUN's command with the build arguments
// it sees ("|1 V=2 /bin/sh -c …"), COPY's and ADD's content hash, a metadata step's text. A step
// after a miss misses too, since its parent is new; --no-cache turns the cache off.
func (bd *build) probeCache(st *stageState, createdBy string) (bool, error) {
	if bd.opts.NoCache {
		return false, nil
	}
	cands, err := bd.b.Images.Children(st.imageID())
	if err != nil {
		return false, fmt.Errorf("build cache: %w", err)
	}
	want := copyConfig(st.cfg)
	want.Image = st.imageID()
	wantCfg, err := json.Marshal(want)
	if err != nil {
		return false, err
	}
	var hit *image.Image
	for _, c := range cands {
		if cacheMatch(st.image, c, wantCfg, st.maintainer, createdBy) && (hit == nil || c.Created.After(hit.Created)) {
			hit = c
		}
	}
	if hit == nil {
		return false, nil
	}
	fmt.Fprintln(bd.out, " ---> Using cache")
	st.image = hit
	return true, nil
}

// cacheMatch tells whether c, a child of parent (nil: scratch), is what a step committing the
// config wantCfg (JSON) with author and history entry createdBy makes.
func cacheMatch(parent, c *image.Image, wantCfg []byte, author, createdBy string) bool {
	cf := c.Config
	if cf == nil || cf.Author != author {
		return false
	}
	var parentHistory []v1.History
	var parentDiffs []v1.Hash
	if parent != nil {
		if parent.Config == nil {
			return false
		}
		parentHistory, parentDiffs = parent.Config.History, parent.DiffIDs
	}
	if len(cf.History) != len(parentHistory)+1 || cf.History[len(cf.History)-1].CreatedBy != createdBy {
		return false
	}
	if n := len(c.DiffIDs) - len(parentDiffs); n < 0 || n > 1 {
		return false
	}
	for i, d := range parentDiffs {
		if c.DiffIDs[i] != d {
			return false
		}
	}
	got, err := json.Marshal(cf.Config)
	return err == nil && bytes.Equal(got, wantCfg)
}
