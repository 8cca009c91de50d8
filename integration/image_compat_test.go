package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/fixtures"
	"github.com/berth-project/berth/integration/harness"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImageLsDockerRows checks the finer points of `images` against docker/cli: newest created
// first, digest-only references as their own `<none>` row (also when named as REPOSITORY), the
// DIGEST column, and VirtualSize's own rounding.
func TestImageLsDockerRows(t *testing.T) {
	env := harness.New(t)
	rootfs, err := fixtures.RootfsTar()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(file, rootfs, 0o644); err != nil {
		t.Fatal(err)
	}
	// Imported now, pulled afterwards: Docker orders by creation time, not by arrival.
	env.MustRun("import", file, "fresh:v1")
	bb := env.Pull("busybox")
	repo := strings.TrimSuffix(bb, ":latest")
	if got := lines(env.MustRun("images", "--format", "{{.Repository}}:{{.Tag}}")); len(got) != 2 || got[0] != "fresh:v1" || got[1] != bb {
		t.Errorf("images order (newest created first): %v", got)
	}
	if got := env.MustRun("images", "--format", "{{.Size}} {{.VirtualSize}}", bb); !regexp.MustCompile(`^[0-9.]+MB [0-9.]+MB\n$`).MatchString(got) {
		t.Errorf("Size/VirtualSize: %q", got)
	}

	// A digest-only reference: its own row with tag <none>, found by its repository name.
	// (A pattern with a tag matches no digest reference: Docker shows <none> for `busybox:latest`.)
	if got := env.MustRun("images", "--format", "{{.Digest}}", bb); got != "<none>\n" {
		t.Errorf("digest of %s: %q", bb, got)
	}
	digest := strings.TrimSpace(env.MustRun("images", "--format", "{{.Digest}}", repo))
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("digest of %s: %q", bb, digest)
	}
	env.MustRun("rmi", bb)
	env.MustRun("pull", "-q", repo+"@"+digest)
	if got := env.MustRun("images", "--format", "{{.Repository}} {{.Tag}}", repo); got != repo+" <none>\n" {
		t.Errorf("images REPO for a digest-only image: %q", got)
	}
	dig := lines(env.MustRun("images", "--digests", repo))
	if len(dig) != 2 || !regexp.MustCompile(`^`+regexp.QuoteMeta(repo)+` +<none> +`+digest+` +[0-9a-f]{12} `).MatchString(dig[1]) {
		t.Errorf("images --digests REPO: %q", dig)
	}
	// Without --digests the digest is not a column, and json shows none (as docker/cli).
	if got := env.MustRun("images", "--format", "json", "--filter", "reference="+repo); !strings.Contains(got, `"Digest":""`) || !strings.Contains(got, `"Tag":"\u003cnone\u003e"`) && !strings.Contains(got, `"Tag":"<none>"`) {
		t.Errorf("json row of a digest-only image: %s", got)
	}
	// The same image tagged as well: the tag row carries the digest of its repository.
	env.MustRun("pull", "-q", bb)
	if got := env.MustRun("images", "--digests", "--format", "{{.Tag}} {{.Digest}}", repo); got != "latest "+digest+"\n" {
		t.Errorf("tag row with --digests: %q", got)
	}
	if got := env.MustRun("images", "--format", "{{.Tag}}|{{.Digest}}", repo); got != "latest|"+digest+"\n" {
		t.Errorf("a format naming .Digest shows it: %q", got)
	}
}

// TestImageDigestMoves pulls one index for two platforms: as in Docker's reference store the
// digest reference follows the newest pull, and the image pulled first is left dangling.
func TestImageDigestMoves(t *testing.T) {
	env := harness.New(t)
	ref := env.Image("multi")
	env.MustRun("pull", "-q", "--platform", "linux/amd64", ref)
	amd := strings.TrimSpace(env.MustRun("images", "-q", "--no-trunc", ref))
	env.MustRun("pull", "-q", "--platform", "linux/arm64", ref)
	arm := strings.TrimSpace(env.MustRun("images", "-q", "--no-trunc", ref))
	if amd == arm || amd == "" {
		t.Fatalf("two platforms, one image? %q %q", amd, arm)
	}
	if got := env.MustRun("image", "inspect", "-f", "{{json .RepoTags}} {{json .RepoDigests}}", amd); got != "[] []\n" {
		t.Errorf("first platform's image keeps references: %s", got)
	}
	digests := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{range .RepoDigests}}{{.}}{{end}}", arm))
	if !strings.Contains(digests, "@sha256:") {
		t.Fatalf("arm64 image RepoDigests: %q", digests)
	}
	if got := env.MustRun("image", "inspect", "-f", "{{.Architecture}}", digests); got != "arm64\n" {
		t.Errorf("the index digest names the arm64 image, got %q", got)
	}
	if got := env.MustRun("images", "--filter", "dangling=true", "--format", "{{.ID}} {{.Repository}} {{.Tag}}", "--no-trunc"); got != amd+" <none> <none>\n" {
		t.Errorf("dangling after the digest moved: %q", got)
	}
}

// TestImageCLIErrors checks the wording of errors docker/cli reports itself (templates,
// references) and of images the store does not have.
func TestImageCLIErrors(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")

	for _, args := range [][]string{
		{"images", "--format", "{{.Nope}}"},
		{"history", "--format", "{{.Nope}}", bb},
	} {
		res := env.MustFail(args...)
		oneLineError(t, res, 1, "template parsing error: template: :1:2: executing")
		if strings.Contains(res.Stderr, "daemon") || res.Stdout != "" {
			t.Errorf("%v: %s", args, res)
		}
	}
	res := env.MustFail("images", "--format", "{{.ID")
	oneLineError(t, res, 1, "template parsing error: template: :1: unclosed action")
	res = env.MustFail("image", "inspect", "-f", "{{.Id", bb)
	oneLineError(t, res, 64, "template parsing error:")
	if strings.HasPrefix(res.Stderr, "berth:") {
		t.Errorf("inspect template error has a prefix: %s", res)
	}

	// Docker's daemon names the normalised reference it looked for.
	for _, args := range [][]string{{"history", "nope"}, {"tag", "nope", "x"}, {"save", "-o", filepath.Join(t.TempDir(), "x.tar"), "nope"}} {
		oneLineError(t, env.MustFail(args...), 1, "Error response from daemon: No such image: nope:latest")
	}
	oneLineError(t, env.MustFail("tag", bb, "Bad!!Ref"), 1, `Error parsing reference: "Bad!!Ref" is not a valid repository/tag: invalid reference format`)
	res = env.MustFail("tag", bb, "x@sha256:"+strings.Repeat("a", 64))
	if strings.TrimSpace(res.Stderr) != "refusing to create a tag with a digest reference" {
		t.Errorf("tag to a digest: %s", res)
	}
	res = env.MustFail("pull", "me/Case:1")
	if strings.TrimSpace(res.Stderr) != "invalid reference format: repository name (me/Case) must be lowercase" {
		t.Errorf("pull of an upper-case name: %s", res)
	}
	res = env.MustFail("pull", "Nope")
	if strings.TrimSpace(res.Stderr) != "invalid reference format: repository name (library/Nope) must be lowercase" {
		t.Errorf("pull of an upper-case name: %s", res)
	}

	// image inspect -f json is one compact array, as docker/cli's JSON inspector; a key that
	// is in neither the Go type nor the JSON is an error, not "<no value>".
	layered := env.Pull("layered")
	js := env.MustRun("image", "inspect", "-f", "json", bb, layered)
	var docs []map[string]any
	if err := json.Unmarshal([]byte(js), &docs); err != nil || len(docs) != 2 || strings.Count(js, "\n") != 1 {
		t.Errorf("image inspect -f json: %v: %q", err, js)
	}
	if res := env.MustFail("image", "inspect", "-f", "json", "nope"); res.Stdout != "[]\n" {
		t.Errorf("image inspect -f json of a missing image: %s", res)
	}
	res = env.MustFail("image", "inspect", "-f", "{{.Nope}}", bb)
	oneLineError(t, res, 1, `template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"`)
	if res.Stdout != "\n" {
		t.Errorf("image inspect with a failing template printed %q", res.Stdout)
	}

	// A filter without "=" is a flag error (exit 125), as docker/cli's filter option makes it.
	for _, args := range [][]string{{"images", "-f", "bad"}, {"image", "prune", "-f", "--filter", "bad"}} {
		res := env.MustFail(args...)
		if res.Code != 125 || !strings.Contains(res.Stderr, `invalid argument "bad" for "`) || !strings.Contains(res.Stderr, "bad format of filter (expected name=value)") {
			t.Errorf("%v: %s", args, res)
		}
	}

	// Files docker/cli opens itself: the OS error alone.
	for args, want := range map[string]string{
		"load -i /nonexistent.tar":                 "open /nonexistent.tar: no such file or directory",
		"import /nonexistent.tar":                  "open /nonexistent.tar: no such file or directory",
		"save -o /nonexistent/x.tar " + bb:         `failed to save image: invalid output path: directory "/nonexistent" does not exist`,
		"import http://127.0.0.1:1/rootfs.tar x:1": `Error response from daemon: Get "http://127.0.0.1:1/rootfs.tar": dial tcp 127.0.0.1:1: connect: connection refused`,
	} {
		if res := env.MustFail(strings.Fields(args)...); strings.TrimSpace(res.Stderr) != want {
			t.Errorf("%s: want %q: %s", args, want, res)
		}
	}

	// history --format json has docker/cli's (alphabetical) keys.
	hist := lines(env.MustRun("history", "--format", "json", bb))
	if len(hist) == 0 || !strings.HasPrefix(hist[0], `{"Comment":"","CreatedAt":"`) || !regexp.MustCompile(`"CreatedSince":"[^"]+","ID":"[0-9a-f]{12}","Size":"[^"]+"}$`).MatchString(hist[0]) {
		t.Errorf("history json: %v", hist)
	}
}

// TestCompletion checks `completion bash|zsh|fish` and that image commands complete the stored
// images' names.
func TestCompletion(t *testing.T) {
	env := harness.New(t)
	for shell, want := range map[string]string{"bash": "__start_berth", "zsh": "#compdef berth", "fish": "complete -c berth"} {
		if out := env.MustRun("completion", shell); !strings.Contains(out, want) {
			t.Errorf("completion %s lacks %q", shell, want)
		}
	}
	bb := env.Pull("busybox")
	for _, args := range [][]string{{"rmi", ""}, {"image", "rm", ""}, {"history", ""}, {"image", "inspect", ""}, {"tag", ""}, {"save", ""}} {
		out := env.MustRun(append([]string{"__complete"}, args...)...)
		if !strings.Contains(out, bb+"\n") {
			t.Errorf("__complete %v does not offer %s:\n%s", args, bb, out)
		}
	}
	if out := env.MustRun("__complete", "tag", bb, ""); strings.Contains(out, bb+"\n") {
		t.Errorf("tag's target completes to existing images:\n%s", out)
	}
}

// TestImageTwoManifestsOneImage pulls the same image as Docker v2 and as OCI (one config, two
// manifests): one image with both tags, and removing it leaves no blob behind.
func TestImageTwoManifestsOneImage(t *testing.T) {
	env := harness.New(t)
	a := env.Pull("layered")
	b := env.Pull("layered-oci")
	if ids := imageIDs(t, env); len(ids) != 1 {
		t.Fatalf("one config, %d images: %v", len(ids), ids)
	}
	env.MustRun("rmi", a, b)
	if ids := imageIDs(t, env); len(ids) != 0 {
		t.Errorf("images left: %v", ids)
	}
	if ents, _ := os.ReadDir(filepath.Join(env.Root, "blobs", "sha256")); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("blobs left after removing the image: %v", names)
	}
}

// TestImageSaveReadByOthers reads berth's save archive with go-containerregistry's
// docker-archive reader (the `docker save` layout: manifest.json, config, layer tars) and checks
// every layer against the diff IDs of its config.
func TestImageSaveReadByOthers(t *testing.T) {
	env := harness.New(t)
	layered := env.Pull("layered")
	zstd := env.Pull("zstd")
	archive := filepath.Join(t.TempDir(), "save.tar")
	env.MustRun("save", "-o", archive, layered, zstd)
	for _, ref := range []string{layered, zstd} {
		tag, err := name.NewTag(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(archive, &tag)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		cfgName, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.Id}}", ref)); cfgName.String() != want {
			t.Errorf("%s: archive config %s, image ID %s", ref, cfgName, want)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != len(cfg.RootFS.DiffIDs) {
			t.Fatalf("%s: %d layers (%v), config lists %d", ref, len(layers), err, len(cfg.RootFS.DiffIDs))
		}
		for i, l := range layers {
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatalf("%s layer %d: %v", ref, i, err)
			}
			h := sha256.New()
			_, err = io.Copy(h, rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s layer %d: %v", ref, i, err)
			}
			if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != cfg.RootFS.DiffIDs[i].String() {
				t.Errorf("%s layer %d uncompresses to %s, config says %s", ref, i, got, cfg.RootFS.DiffIDs[i])
			}
		}
	}
}
