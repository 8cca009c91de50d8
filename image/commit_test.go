package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/berth-project/berth/storage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// tarOf returns a writeLayer func writing a tar with the given regular files.
func tarOf(files map[string]string) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, name := range sortedKeys(files) {
			body := files[name]
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := io.WriteString(tw, body); err != nil {
				return err
			}
		}
		return tw.Close()
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestCommit(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	push(t, host+"/base:v1", randomImage(t, 2))
	s := newStore(t)
	base, _ := pull(t, s, host+"/base:v1")
	ctx := context.Background()

	cfg := base.Config.Config
	cfg.Cmd = []string{"sh", "-c", "true"}
	img, err := s.Commit(ctx, base.ID, tarOf(map[string]string{"etc/new": "hello"}), CommitOptions{
		Ref: "committed:v1", Config: cfg, Author: "me", Message: "msg", CreatedBy: "sh -c touch", Container: "c0ffee",
	})
	if err != nil {
		t.Fatal(err)
	}
	if img.Parent != base.ID || len(img.DiffIDs) != 3 || img.DiffIDs[0] != base.DiffIDs[0] || img.DiffIDs[1] != base.DiffIDs[1] {
		t.Fatalf("committed image: parent %q diff IDs %v (base %v)", img.Parent, img.DiffIDs, base.DiffIDs)
	}
	if len(img.RepoTags) != 1 || img.RepoTags[0] != "committed:v1" {
		t.Errorf("tags %v", img.RepoTags)
	}
	if want := storage.ChainID(base.ChainIDs[1], img.DiffIDs[2]); img.ChainIDs[2] != want || !s.storage.HasLayer(want) {
		t.Errorf("chain ID %s, want %s (stored %v)", img.ChainIDs[2], want, s.storage.HasLayer(want))
	}
	data, err := os.ReadFile(filepath.Join(s.storage.LayerDir(img.ChainIDs[2]), "etc", "new"))
	if err != nil || string(data) != "hello" {
		t.Errorf("layer content %q %v", data, err)
	}
	// The layer's tar is kept: it comes back byte for byte (for save and push).
	var want bytes.Buffer
	_ = tarOf(map[string]string{"etc/new": "hello"})(&want)
	rc, _, err := s.storage.LayerTar(img.ChainIDs[2])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("layer tar differs from the written one")
	}
	c := img.Config
	hist := c.History
	if c.Author != "me" || c.Container != "c0ffee" || c.Config.Cmd[2] != "true" || c.OS != base.Config.OS || c.Architecture != base.Config.Architecture {
		t.Errorf("config %+v", c)
	}
	if n := len(base.Config.History); len(hist) != n+1 || hist[n].CreatedBy != "sh -c touch" || hist[n].Comment != "msg" || hist[n].Author != "me" || hist[n].EmptyLayer {
		t.Errorf("history %+v", hist)
	}
	var extras configExtras
	if err := json.Unmarshal(img.RawConfig, &extras); err != nil || extras.Comment != "msg" || extras.Author != "me" || extras.Container != "c0ffee" {
		t.Errorf("config extras %+v %v", extras, err)
	}
	insp, err := s.Inspect(img)
	if err != nil || insp.Parent != base.ID || insp.Comment != "msg" || insp.Author != "me" {
		t.Errorf("inspect %+v %v", insp, err)
	}

	// Saved and loaded elsewhere, it is the same image.
	var archive bytes.Buffer
	if err := s.Save([]string{"committed:v1"}, &archive); err != nil {
		t.Fatal(err)
	}
	res, err := newStore(t).Load(ctx, &archive)
	if err != nil || len(res.Tags) != 1 {
		t.Fatalf("load: %+v %v", res, err)
	}
	assertClean(t, s)
}

func TestCommitEmptyLayer(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	push(t, host+"/base:v1", randomImage(t, 1))
	s := newStore(t)
	base, _ := pull(t, s, host+"/base:v1")
	ctx := context.Background()
	cfg := base.Config.Config
	cfg.Env = append(cfg.Env, "A=b")
	called := false
	img, err := s.Commit(ctx, base.ID, func(io.Writer) error { called = true; return nil },
		CommitOptions{Config: cfg, CreatedBy: "ENV A=b", EmptyLayer: true})
	if err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("writeLayer called for an empty layer")
	}
	h := img.Config.History
	if len(img.DiffIDs) != 1 || img.ChainIDs[0] != base.ChainIDs[0] || !h[len(h)-1].EmptyLayer || len(img.RepoTags) != 0 {
		t.Errorf("empty-layer commit: %v %+v %v", img.DiffIDs, h, img.RepoTags)
	}
	// A layer tar without entries (a container without changes) adds no layer either.
	img2, err := s.Commit(ctx, img.ID, tarOf(nil), CommitOptions{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if h := img2.Config.History; len(img2.DiffIDs) != 1 || !h[len(h)-1].EmptyLayer || img2.Parent != img.ID {
		t.Errorf("commit of an empty tar: %v %+v", img2.DiffIDs, h)
	}
}

func TestCommitScratch(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	img, err := s.Commit(ctx, "scratch", tarOf(map[string]string{"hello": "world"}), CommitOptions{Ref: "fromscratch", Config: v1.Config{Cmd: []string{"/hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	if img.Parent != "" || len(img.DiffIDs) != 1 || img.ChainIDs[0] != img.DiffIDs[0] || len(img.Config.History) != 1 ||
		img.Config.OS != runtime.GOOS || img.Config.Architecture != runtime.GOARCH || img.RepoTags[0] != "fromscratch:latest" {
		t.Errorf("scratch commit: %+v %+v", img, img.Config)
	}
	for _, tc := range []struct {
		name   string
		parent string
		write  func(io.Writer) error
		opts   CommitOptions
	}{
		{"bad reference", "", tarOf(nil), CommitOptions{Ref: "Bad:Ref"}},
		{"no parent", "sha256:" + emptyTarDiffID.Hex, tarOf(nil), CommitOptions{}},
		{"writer fails", "", func(io.Writer) error { return errors.New("boom") }, CommitOptions{}},
	} {
		if _, err := s.Commit(ctx, tc.parent, tc.write, tc.opts); err == nil {
			t.Errorf("%s: commit succeeded", tc.name)
		}
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Errorf("images after failed commits: %d", len(list))
	}
	assertClean(t, s)
}
