package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// TestImageRmi checks rmi output, shared layers, ID prefixes, several images and errors.
func TestImageRmi(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	layered := env.Pull("layered")
	if n := len(layerDirs(t, env)); n != 3 {
		t.Fatalf("busybox + layered should store 3 layers (one shared), got %d", n)
	}
	baseLayer := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", bb))

	out := env.MustRun("rmi", layered)
	l := lines(out)
	if len(l) != 5 || l[0] != "Untagged: "+layered || !strings.HasPrefix(l[1], "Untagged: "+strings.TrimSuffix(layered, ":latest")+"@sha256:") {
		t.Errorf("rmi output:\n%s", out)
	}
	for _, x := range l[2:] {
		if !regexp.MustCompile(`^Deleted: sha256:[0-9a-f]{64}$`).MatchString(x) {
			t.Errorf("rmi line %q", x)
		}
	}
	if _, err := os.Stat(baseLayer); err != nil {
		t.Errorf("layer shared with busybox was removed: %v", err)
	}
	if n := len(layerDirs(t, env)); n != 1 {
		t.Errorf("%d layers left, want 1", n)
	}

	// Two tags: rmi by ID needs -f; rmi by name only untags.
	env.MustRun("tag", bb, "mybox:v1")
	id := strings.TrimSpace(env.MustRun("images", "-q", "mybox"))
	oneLineError(t, env.MustFail("rmi", id), 1, "Error response from daemon: conflict: unable to delete "+id+" (must be forced) - image is referenced in multiple repositories")
	if out := env.MustRun("rmi", "mybox:v1"); out != "Untagged: mybox:v1\n" {
		t.Errorf("rmi of one of two tags: %q", out)
	}
	env.MustRun("tag", bb, "mybox:v1")
	out = env.MustRun("rmi", "-f", id[:5])
	if !strings.Contains(out, "Untagged: mybox:v1\n") || !strings.Contains(out, "Untagged: "+bb+"\n") || !strings.Contains(out, "Deleted: sha256:"+id) {
		t.Errorf("rmi -f by prefix:\n%s", out)
	}
	if ids := imageIDs(t, env); len(ids) != 0 {
		t.Errorf("images left: %v", ids)
	}
	if n := len(layerDirs(t, env)); n != 0 {
		t.Errorf("%d layers left after removing every image", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(env.Root, "blobs", "sha256")); len(ents) != 0 {
		t.Errorf("%d blobs left after removing every image", len(ents))
	}

	// Several at once, one of them absent: the others go, the exit code is 1.
	env.Pull("busybox")
	env.Pull("zstd")
	res := env.MustFail("rmi", bb, "nope", env.Image("zstd"))
	if res.Code != 1 || !strings.Contains(res.Stdout, "Untagged: "+bb) || !strings.Contains(res.Stdout, "Untagged: "+env.Image("zstd")) {
		t.Errorf("rmi of several: %s", res)
	}
	oneLineError(t, res, 1, "Error response from daemon: No such image: nope:latest")
	oneLineError(t, env.MustFail("image", "rm", "0123456789ab"), 1, "No such image: 0123456789ab")
	if res := env.MustFail("rmi"); res.Code != 1 {
		t.Errorf("rmi without arguments: %s", res)
	}
}

// TestImageRmiInUse checks that rmi refuses an image a container was created from.
func TestImageRmiInUse(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	ctr := strings.TrimSpace(env.MustRun("create", "--network", "none", bb, "true"))
	id := strings.TrimSpace(env.MustRun("images", "-q", bb))
	oneLineError(t, env.MustFail("rmi", id), 1, "conflict: unable to delete "+id+" (must be forced) - image is being used by stopped container "+ctr[:12])
	oneLineError(t, env.MustFail("rmi", bb), 1, "conflict: unable to remove repository reference \""+bb+"\" (must force) - container "+ctr[:12]+" is using its referenced image "+id)
	env.MustRun("rmi", "-f", bb)
	// The image stays (untagged) while the container needs its layers.
	if got := strings.TrimSpace(env.MustRun("images", "-q", "-a")); got != id {
		t.Errorf("image used by a container was deleted: %q", got)
	}
	env.MustRun("rm", ctr)
	out := env.MustRun("image", "prune", "-f")
	if !strings.Contains(out, "deleted: sha256:"+id) || !strings.Contains(out, "Total reclaimed space: ") {
		t.Errorf("prune after the container went:\n%s", out)
	}
}

// TestImageTag checks tag and its errors.
func TestImageTag(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	env.MustRun("tag", bb, "a/b:c")
	env.MustRun("tag", "a/b:c", "127.0.0.1:9/x")
	id := strings.TrimSpace(env.MustRun("images", "-q", bb))
	env.MustRun("tag", id, "byid")
	tags := env.MustRun("image", "inspect", "-f", "{{json .RepoTags}}", bb)
	for _, want := range []string{`"a/b:c"`, `"127.0.0.1:9/x:latest"`, `"byid:latest"`, `"` + bb + `"`} {
		if !strings.Contains(tags, want) {
			t.Errorf("RepoTags %s lack %s", tags, want)
		}
	}
	oneLineError(t, env.MustFail("tag", "missing", "x"), 1, "No such image: missing")
	oneLineError(t, env.MustFail("tag", bb, "Bad:Tag"), 1, "invalid reference format")
	oneLineError(t, env.MustFail("tag", bb, "x@sha256:"+strings.Repeat("a", 64)), 1, "refusing to create a tag with a digest reference")
	if res := env.MustFail("tag", bb); res.Code != 1 {
		t.Errorf("tag with one argument: %s", res)
	}
}

// deletedLines returns the IDs (12 characters) of rmi's or prune's Deleted lines, in order.
func deletedLines(out string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`(?mi)^deleted: sha256:([0-9a-f]{64})$`).FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1][:12])
	}
	return ids
}

// allImages returns `images -a -q`.
func allImages(t *testing.T, env *harness.Env) []string {
	t.Helper()
	return lines(env.MustRun("images", "-a", "-q"))
}

// TestImageRmiBuildChain checks that rmi deletes a build's untagged intermediate images after
// the image (not with --no-prune), keeps those another image or a container needs, and that
// image prune removes a dangling chain.
func TestImageRmiBuildChain(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	baseID := strings.TrimSpace(env.MustRun("images", "-q", bb))
	baseLayers := len(layerDirs(t, env))
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"f":          "f\n",
		"Dockerfile": "FROM " + bb + "\nENV A=1\nRUN echo x > /x\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n",
	})
	steps := stepIDs(env.MustRun("build", "-t", "bt:1", dir)) // FROM, ENV, RUN, COPY, CMD
	if len(steps) != 5 || steps[0] != baseID || len(allImages(t, env)) != 5 {
		t.Fatalf("build steps %v, images -a %v", steps, allImages(t, env))
	}

	// Docker's order: the image, then each parent, each followed by the layers it alone had.
	out := env.MustRun("rmi", "bt:1")
	l := lines(out)
	want := []string{"Untagged: bt:1", steps[4], steps[3], "layer", steps[2], "layer", steps[1]}
	ok := len(l) == len(want)
	for i := 0; ok && i < len(l); i++ {
		switch w := want[i]; {
		case i == 0:
			ok = l[i] == w
		case w == "layer":
			ok = regexp.MustCompile(`^Deleted: sha256:[0-9a-f]{64}$`).MatchString(l[i]) && !strings.HasPrefix(l[i], "Deleted: sha256:"+steps[3])
		default:
			ok = strings.HasPrefix(l[i], "Deleted: sha256:"+w)
		}
	}
	if !ok {
		t.Errorf("rmi of a built image:\n%s\nwant the images %v with their layers", out, steps[1:])
	}
	if got := allImages(t, env); len(got) != 1 || got[0] != baseID || len(layerDirs(t, env)) != baseLayers {
		t.Errorf("after rmi: images %v, %d layers", got, len(layerDirs(t, env)))
	}

	// --no-prune deletes the image alone; its parent is then dangling, and prune takes the chain.
	steps = stepIDs(env.MustRun("build", "-t", "bt:1", dir))
	if got := deletedLines(env.MustRun("rmi", "--no-prune", "bt:1")); len(got) != 1 || got[0] != steps[4] {
		t.Errorf("rmi --no-prune deleted %v", got)
	}
	if got := allImages(t, env); len(got) != 4 {
		t.Errorf("after rmi --no-prune: %v", got)
	}
	if got := lines(env.MustRun("images", "-q", "-f", "dangling=true")); len(got) != 1 || got[0] != steps[3] {
		t.Errorf("dangling images %v, want the COPY step's %s", got, steps[3])
	}
	out = env.MustRun("image", "prune", "-f")
	if got := deletedLines(out); len(got) != 5 || got[0] != steps[3] || got[2] != steps[2] || got[4] != steps[1] {
		t.Errorf("prune of a dangling chain:\n%s", out)
	}
	if got := allImages(t, env); len(got) != 1 || got[0] != baseID {
		t.Errorf("after prune: %v", got)
	}

	// An intermediate image that is the parent of another tagged image stays.
	steps = stepIDs(env.MustRun("build", "-t", "bt:1", dir))
	other := writeFiles(t, t.TempDir(), map[string]string{
		"Dockerfile": "FROM " + bb + "\nENV A=1\nRUN echo x > /x\nCMD [\"cat\", \"/x\"]\n",
	})
	steps2 := stepIDs(env.MustRun("build", "-t", "bt:2", other))
	if len(steps2) != 4 || steps2[2] != steps[2] {
		t.Fatalf("bt:2's steps %v should share bt:1's %v", steps2, steps)
	}
	if got := deletedLines(env.MustRun("rmi", "bt:1")); len(got) != 3 || got[0] != steps[4] || got[1] != steps[3] {
		t.Errorf("rmi beside bt:2 deleted %v", got)
	}
	if out := env.MustRun("run", "--rm", "bt:2"); out != "x\n" {
		t.Errorf("run bt:2: %q", out)
	}
	oneLineError(t, env.MustFail("rmi", steps[2]), 1, "conflict: unable to delete "+steps[2]+" (cannot be forced) - image has dependent child images")
	if got := deletedLines(env.MustRun("rmi", "bt:2")); len(got) != 4 || got[0] != steps2[3] || got[3] != steps[1] {
		t.Errorf("rmi bt:2 deleted %v", got)
	}

	// An intermediate image a container was created from stays, with its parents.
	steps = stepIDs(env.MustRun("build", "-t", "bt:1", dir))
	ctr := strings.TrimSpace(env.MustRun("create", "--network", "none", steps[2], "true"))
	if got := deletedLines(env.MustRun("rmi", "bt:1")); len(got) != 3 || got[1] != steps[3] {
		t.Errorf("rmi with a container on the RUN step deleted %v", got)
	}
	if got := allImages(t, env); len(got) != 3 {
		t.Errorf("images left beside the container: %v", got)
	}
	if got := lines(env.MustRun("images", "-q", "-f", "dangling=true")); len(got) != 1 || got[0] != steps[2] {
		t.Errorf("dangling images %v", got)
	}
	if got := deletedLines(env.MustRun("image", "prune", "-f")); len(got) != 0 {
		t.Errorf("prune deleted an image a container uses: %v", got)
	}
	env.MustRun("rm", ctr)
	if got := deletedLines(env.MustRun("image", "prune", "-f")); len(got) != 3 || got[0] != steps[2] || got[2] != steps[1] {
		t.Errorf("prune after the container went deleted %v", got)
	}
	if got := allImages(t, env); len(got) != 1 || got[0] != baseID || len(layerDirs(t, env)) != baseLayers {
		t.Errorf("at the end: images %v, %d layers", got, len(layerDirs(t, env)))
	}
	env.CheckNoLeaks()
}
