package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry starts an in-process registry on loopback; wrap may alter its responses.
func testRegistry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(nopLogger()))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t testing.TB, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(2048, layers)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", HostPlatform().Architecture
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pull(t *testing.T, s *Store, ref string) (*Image, string) {
	t.Helper()
	var out bytes.Buffer
	img, err := s.Pull(context.Background(), ref, PullOptions{Out: &out})
	if err != nil {
		t.Fatalf("pull %s: %v\n%s", ref, err, out.String())
	}
	return img, out.String()
}

// assertClean checks that no temporary download or unpack is left in the store.
func assertClean(t *testing.T, s *Store) {
	t.Helper()
	tmps, _ := filepath.Glob(filepath.Join(s.root, "blobs", "tmp", "*"))
	layerTmps, _ := filepath.Glob(filepath.Join(s.root, "layers", "tmp-*"))
	if len(tmps)+len(layerTmps) > 0 {
		t.Errorf("temporary files left: %v %v", tmps, layerTmps)
	}
}

func TestPullResolveRemove(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	base := randomImage(t, 2)
	extra, err := random.Layer(1024, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	if err != nil {
		t.Fatal(err)
	}
	child, err := mutate.AppendLayers(base, extra)
	if err != nil {
		t.Fatal(err)
	}
	baseDigest := push(t, host+"/base:v1", base)
	push(t, host+"/child:v1", child)

	s := newStore(t)
	img, out := pull(t, s, host+"/base:v1")
	for _, want := range []string{"v1: Pulling from base", "Pull complete", "Digest: " + baseDigest.String(),
		"Status: Downloaded newer image for " + host + "/base:v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Using default tag") {
		t.Errorf("explicit tag printed the default-tag line:\n%s", out)
	}
	cfgName, _ := base.ConfigName()
	if img.ID != cfgName.String() || len(img.ChainIDs) != 2 || img.Size <= 0 {
		t.Fatalf("pulled image %+v", img)
	}
	_, out = pull(t, s, host+"/base:v1")
	if !strings.Contains(out, "Status: Image is up to date for "+host+"/base:v1") || strings.Contains(out, "Already exists") {
		t.Errorf("second pull:\n%s", out)
	}
	child2, out := pull(t, s, host+"/child:v1")
	if strings.Count(out, "Already exists") != 2 {
		t.Errorf("child pull should reuse two layers:\n%s", out)
	}

	hex := strings.TrimPrefix(img.ID, "sha256:")
	for _, ref := range []string{host + "/base:v1", host + "/base@" + baseDigest.String(), img.ID, hex, hex[:12], "sha256:" + hex[:10]} {
		got, err := s.Resolve(ref)
		if err != nil || got.ID != img.ID {
			t.Errorf("Resolve(%q) = %v, %v", ref, got, err)
		}
	}
	for ref, want := range map[string]string{"nothing": "nothing:latest", host + "/base:v2": host + "/base:v2",
		"ffffffffffff": "ffffffffffff:latest", "sha256:ffff": "sha256:ffff", "Not A Ref": "Not A Ref"} {
		if _, err := s.Resolve(ref); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "No such image: "+want {
			t.Errorf("Resolve(%q) = %v, want No such image: %s", ref, err, want)
		}
	}
	dirs, err := s.LowerDirs(child2)
	if err != nil || len(dirs) != 3 || dirs[0] != s.storage.LayerDir(child2.ChainIDs[2]) {
		t.Errorf("LowerDirs = %v, %v", dirs, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d images, %v", len(list), err)
	}

	// Removing base keeps its layers: child shares them.
	res, err := s.Remove(host+"/base:v1", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Untagged != host+"/base:v1" || res[1].Untagged != host+"/base@"+baseDigest.String() || res[2].Deleted != img.ID {
		t.Errorf("remove base: %+v", res)
	}
	for _, c := range child2.ChainIDs {
		if !s.storage.HasLayer(c) {
			t.Errorf("shared layer %s removed", c)
		}
	}
	res, err = s.Remove(ids12(child2.ID), RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res); n != 2+1+3 {
		t.Errorf("remove child: %+v", res)
	}
	ents, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	layers, _ := filepath.Glob(filepath.Join(s.root, "layers", "[0-9a-f]*"))
	if len(ents) != 0 || len(layers) != 0 {
		t.Errorf("left after removing everything: %d blobs, layers %v", len(ents), layers)
	}
	if _, err := s.Remove("gone", RemoveOptions{}); err == nil || err.Error() != "No such image: gone:latest" {
		t.Errorf("remove absent: %v", err)
	}
}

func TestRemoveConflicts(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	push(t, host+"/a:v1", randomImage(t, 1))
	s := newStore(t)
	img, _ := pull(t, s, host+"/a:v1")
	if err := s.Tag(host+"/a:v1", "other:v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(img.ID, RemoveOptions{}); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "referenced in multiple repositories") {
		t.Errorf("remove by ID with two repositories: %v", err)
	}
	running := func(string) ([]ContainerUse, error) {
		return []ContainerUse{{ID: strings.Repeat("c", 64), Running: true}}, nil
	}
	if _, err := s.Remove(img.ID, RemoveOptions{Force: true, UsedBy: running}); err == nil || !strings.Contains(err.Error(), "(cannot be forced) - image is being used by running container cccccccccccc") {
		t.Errorf("remove in use: %v", err)
	}
	stopped := func(string) ([]ContainerUse, error) { return []ContainerUse{{ID: strings.Repeat("d", 64)}}, nil }
	if _, err := s.Remove("other:v2", RemoveOptions{UsedBy: stopped}); err != nil {
		t.Errorf("untag one of two refs of an image in use: %v", err)
	}
	if _, err := s.Remove(host+"/a:v1", RemoveOptions{UsedBy: stopped}); err == nil || !strings.Contains(err.Error(), "must force") {
		t.Errorf("remove last ref of an image in use: %v", err)
	}
	res, err := s.Remove(host+"/a:v1", RemoveOptions{UsedBy: stopped, Force: true})
	if err != nil || len(res) == 0 || res[len(res)-1].Deleted != "" {
		t.Errorf("forced untag of image in use should keep it: %+v %v", res, err)
	}
	if _, err := s.Resolve(img.ID); err != nil {
		t.Errorf("image used by a container was deleted: %v", err)
	}
	// Nothing uses it now: prune takes the dangling image.
	res, reclaimed, err := s.Prune(PruneOptions{})
	if err != nil || len(res) == 0 || reclaimed <= 0 {
		t.Errorf("prune: %+v %d %v", res, reclaimed, err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("prune left %d images", len(list))
	}
}

func TestTagMoves(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	push(t, host+"/a:1", randomImage(t, 1))
	push(t, host+"/a:2", randomImage(t, 1))
	s := newStore(t)
	one, _ := pull(t, s, host+"/a:1")
	two, _ := pull(t, s, host+"/a:2")
	if err := s.Tag(host+"/a:1", "app"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(two.ID, "app:latest"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Resolve("app"); got.ID != two.ID {
		t.Errorf("app points at %s, want %s", got.ID, two.ID)
	}
	if got, _ := s.Resolve(one.ID); len(got.RepoTags) != 1 {
		t.Errorf("old image tags: %v", got.RepoTags)
	}
	for _, bad := range []string{"Bad", "x@sha256:" + strings.Repeat("a", 64), "a:"} {
		if err := s.Tag("app", bad); err == nil {
			t.Errorf("Tag to %q succeeded", bad)
		}
	}
	if err := s.Tag("missing", "x"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Tag of a missing image: %v", err)
	}
	f, _ := ParseFilters([]string{"reference=app"}, "reference")
	all, _ := s.List()
	sel, _ := s.Select(all, f)
	if len(sel) != 1 || sel[0].ID != two.ID {
		t.Errorf("reference=app selected %d images", len(sel))
	}
}

func TestPullErrors(t *testing.T) {
	t.Parallel()
	var corrupt sync.Map // blob digests whose content the registry garbles
	host := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, part := range strings.Split(r.URL.Path, "/") {
				if _, ok := corrupt.Load(part); ok && r.Method == http.MethodGet {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)
					body := rec.Body.Bytes()
					body[len(body)/2] ^= 0xff
					w.WriteHeader(rec.Code)
					w.Write(body)
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	good := randomImage(t, 2)
	push(t, host+"/good:v1", good)
	bad := randomImage(t, 2)
	push(t, host+"/bad:v1", bad)
	layers, _ := bad.Layers()
	d, _ := layers[1].Digest()
	corrupt.Store(d.String(), true)

	arm, _ := random.Image(512, 1)
	cfg, _ := arm.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "s390x"
	arm, _ = mutate.ConfigFile(arm, cfg)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}})
	r, _ := name.ParseReference(host+"/foreign:v1", name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}

	s := newStore(t)
	ctx := context.Background()
	cases := []struct {
		ref, platform, want string
		notFound            bool
	}{
		{host + "/good:nope", "", "manifest for " + host + "/good:nope not found: manifest unknown", true},
		{host + "/missing:v1", "", "not found", true},
		{host + "/foreign:v1", "", "no matching manifest for linux/" + HostPlatform().Architecture + " in the manifest list entries", true},
		{host + "/good:v1", "linux/s390x", "does not match the specified platform: wanted linux/s390x", true},
		{host + "/bad:v1", "", "filesystem layer verification failed for digest " + d.String(), false},
		{"127.0.0.1:1/x:v1", "", `Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1`, false},
		{"Bad Ref", "", "invalid reference format", false},
		{host + "/good:v1", "nonsense", `invalid platform "nonsense"`, false},
	}
	for _, c := range cases {
		_, err := s.Pull(ctx, c.ref, PullOptions{Platform: c.platform})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Pull(%q, %q) = %v, want %q", c.ref, c.platform, err, c.want)
			continue
		}
		if c.notFound != errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Pull(%q): errors.Is(NotFound) = %v", c.ref, !c.notFound)
		}
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("failed pulls recorded %d images", len(list))
	}
	if s.storage.HasBlob(d) {
		t.Error("corrupt blob stored")
	}
	assertClean(t, s)
	// The registry heals: the same store completes the pull.
	corrupt.Delete(d.String())
	if _, err := s.Pull(ctx, host+"/bad:v1", PullOptions{}); err != nil {
		t.Errorf("pull after the registry healed: %v", err)
	}
}

func TestConcurrentPull(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	push(t, host+"/c:v1", randomImage(t, 3))
	s := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other, _ := Open(s.root) // as if from another shell
			_, errs[i] = other.Pull(context.Background(), host+"/c:v1", PullOptions{Out: io.Discard})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if list, _ := s.List(); len(list) != 1 || len(list[0].RepoTags) != 1 {
		t.Errorf("after concurrent pulls: %+v", list)
	}
	assertClean(t, s)
}

func TestSaveLoadImport(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	push(t, host+"/a:v1", randomImage(t, 2))
	src := newStore(t)
	img, _ := pull(t, src, host+"/a:v1")
	if err := src.Tag(img.ID, "local/a:v2"); err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := src.Save([]string{"local/a"}, &archive); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	res, err := dst.Load(context.Background(), bytes.NewReader(archive.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tags) != 1 || res.Tags[0] != "local/a:v2" {
		t.Errorf("loaded %+v", res)
	}
	got, err := dst.Resolve("local/a:v2")
	if err != nil || got.ID != img.ID || len(got.ChainIDs) != 2 {
		t.Fatalf("loaded image %+v %v", got, err)
	}
	// By ID: no tags in the archive.
	archive.Reset()
	if err := src.Save([]string{ids12(img.ID)}, &archive); err != nil {
		t.Fatal(err)
	}
	res, err = newStore(t).Load(context.Background(), &archive)
	if err != nil || len(res.IDs) != 1 || res.IDs[0] != img.ID {
		t.Errorf("load of an untagged archive: %+v %v", res, err)
	}
	if _, err := dst.Load(context.Background(), strings.NewReader("not a tar")); err == nil {
		t.Error("loading garbage succeeded")
	}
	assertClean(t, dst)

	// Import the layer tar of the image as a new image.
	rc, _, err := dst.storage.LayerTar(got.ChainIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	imp, err := dst.Import(context.Background(), rc, ImportOptions{Ref: "imported:v1", Changes: []string{"CMD [\"sh\"]"}, Message: "msg", Source: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if imp.DiffIDs[0] != got.DiffIDs[0] || imp.Config.Config.Cmd[0] != "sh" || imp.RepoTags[0] != "imported:v1" {
		t.Errorf("imported %+v", imp)
	}
	insp, err := dst.Inspect(imp)
	if err != nil || insp.Comment != "msg" || insp.RootFS.Layers[0] != got.DiffIDs[0].String() || insp.GraphDriver.Name != "overlay2" {
		t.Errorf("inspect imported: %+v %v", insp, err)
	}
	hist, err := dst.History(imp)
	if err != nil || len(hist) != 1 || hist[0].ID != imp.ID || hist[0].Comment != "msg" {
		t.Errorf("history imported: %+v %v", hist, err)
	}
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func TestPush(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	push(t, host+"/src:v1", randomImage(t, 2))
	s := newStore(t)
	img, _ := pull(t, s, host+"/src:v1")
	if err := s.Tag(img.ID, host+"/dst:v1"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d, err := s.Push(context.Background(), host+"/dst:v1", PushOptions{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"The push refers to repository [" + host + "/dst]", "Preparing", "v1: digest: " + d.String()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("push output lacks %q:\n%s", want, out.String())
		}
	}
	// A loaded image (uncompressed layers, no manifest) pushes too, and pulls back identical.
	var archive bytes.Buffer
	if err := s.Save([]string{img.ID}, &archive); err != nil {
		t.Fatal(err)
	}
	loaded := newStore(t)
	if _, err := loaded.Load(context.Background(), &archive); err != nil {
		t.Fatal(err)
	}
	if err := loaded.Tag(img.ID, host+"/fromload:v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.Push(context.Background(), host+"/fromload:v1", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{host + "/dst:v1", host + "/fromload:v1"} {
		got, _ := pull(t, newStore(t), ref)
		if got.ID != img.ID {
			t.Errorf("%s pulled back as %s, want %s", ref, got.ID, img.ID)
		}
	}
	if _, err := s.Push(context.Background(), host+"/absent:v1", PushOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("push of an absent tag: %v", err)
	}
}

func TestFindInIndex(t *testing.T) {
	t.Parallel()
	a := &record{ID: "sha256:abc1" + strings.Repeat("0", 60), RepoTags: []string{"busybox:latest", "abc:latest"}}
	b := &record{ID: "sha256:abc2" + strings.Repeat("0", 60), RepoDigests: []string{"app@sha256:" + strings.Repeat("d", 64)}}
	ix := &index{Images: []*record{a, b}}
	cases := []struct {
		ref  string
		want *record
		err  string
	}{
		{"busybox", a, ""},
		{"docker.io/library/busybox:latest", a, ""},
		{"abc", a, ""}, // a name wins over an ID prefix
		{"abc2", b, ""},
		{"sha256:abc2", b, ""},
		{strings.TrimPrefix(b.ID, "sha256:"), b, ""},
		{b.ID, b, ""},
		{"app@sha256:" + strings.Repeat("d", 64), b, ""},
		{"ab", nil, "multiple IDs found with provided prefix: ab"},
		{"sha256:ab", nil, "multiple IDs found with provided prefix: sha256:ab"},
		{"busybox:1", nil, "No such image: busybox:1"},
		{"abc3", nil, "No such image: abc3:latest"},
		{"", nil, "No such image: "},
		{"Not A Ref", nil, "No such image: Not A Ref"},
	}
	for _, c := range cases {
		got, err := ix.find(c.ref)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("find(%q) = %v, want error %q", c.ref, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("find(%q) = %v, %v", c.ref, got, err)
		}
	}
}

// TestLoadLegacyArchive loads a pre-Docker-25 archive whose second image links the shared layer.
func TestLoadLegacyArchive(t *testing.T) {
	t.Parallel()
	host := testRegistry(t, nil)
	push(t, host+"/a:v1", randomImage(t, 1))
	src := newStore(t)
	img, _ := pull(t, src, host+"/a:v1")
	rc, _, err := src.storage.LayerTar(img.ChainIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	layer, _ := io.ReadAll(rc)
	rc.Close()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	hex := strings.TrimPrefix(img.ID, "sha256:")
	add(&tar.Header{Name: hex + ".json", Mode: 0o644, Typeflag: tar.TypeReg}, img.RawConfig)
	add(&tar.Header{Name: "one/layer.tar", Mode: 0o644, Typeflag: tar.TypeReg}, layer)
	add(&tar.Header{Name: "two/layer.tar", Linkname: "../one/layer.tar", Typeflag: tar.TypeSymlink}, nil)
	manifest := `[{"Config":"` + hex + `.json","RepoTags":["x:1"],"Layers":["one/layer.tar"]},` +
		`{"Config":"` + hex + `.json","RepoTags":["docker.io/library/y:2"],"Layers":["two/layer.tar"]}]`
	add(&tar.Header{Name: "manifest.json", Mode: 0o644, Typeflag: tar.TypeReg}, []byte(manifest))
	tw.Close()
	dst := newStore(t)
	res, err := dst.Load(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Tags, ",") != "x:1,y:2" {
		t.Errorf("loaded tags %v", res.Tags)
	}
	if got, err := dst.Resolve("y:2"); err != nil || got.ID != img.ID {
		t.Errorf("y:2 = %v, %v", got, err)
	}
}
