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
