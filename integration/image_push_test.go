package integration

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// TestImagePush pushes a pulled and an imported image to a fresh registry and pulls them back.
func TestImagePush(t *testing.T) {
	env := harness.New(t)
	srv := harness.NewRegistry(t)
	layered := env.Pull("layered")
	id := strings.TrimSpace(env.MustRun("images", "-q", "--no-trunc", layered))
	dst := srv.Addr + "/pushed:v1"
	env.MustRun("tag", layered, dst)
	out := env.MustRun("push", dst)
	l := lines(out)
	if l[0] != "The push refers to repository ["+srv.Addr+"/pushed]" ||
		!regexp.MustCompile(`(?m)^[0-9a-f]{12}: Pushed$`).MatchString(out) ||
		!regexp.MustCompile(`^v1: digest: sha256:[0-9a-f]{64} size: \d+$`).MatchString(l[len(l)-1]) {
		t.Errorf("push output:\n%s", out)
	}
	if out := env.MustRun("push", dst); !strings.Contains(out, ": Layer already exists") {
		t.Errorf("second push:\n%s", out)
	}
	other := harness.New(t)
	other.MustRun("pull", "-q", dst)
	if got := strings.TrimSpace(other.MustRun("images", "-q", "--no-trunc", dst)); got != id {
		t.Errorf("pushed image pulled back as %s, want %s", got, id)
	}
	// berth keeps no layer blobs (the layers' tars are made again and compressed for a registry
	// that lacks them): pushed back where it came from, the image keeps its blobs and manifest.
	if blobs, _ := filepath.Glob(filepath.Join(env.Root, "blobs", "sha256", "*")); len(blobs) != 2 {
		t.Errorf("blobs stored for one image: %v (want its config and manifest only)", blobs)
	}
	again := strings.SplitN(layered, ":", 3)
	back := strings.Join(again[:2], ":") + ":again"
	env.MustRun("tag", layered, back)
	out = env.MustRun("push", back)
	pulledDigest := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{index .RepoDigests 0}}", layered))
	if strings.Contains(out, ": Pushed") || !strings.HasSuffix(strings.TrimSpace(out), "again: digest: "+pulledDigest[strings.Index(pulledDigest, "@")+1:]+" size: "+lastField(out)) {
		t.Errorf("push back to the origin (pulled as %s):\n%s", pulledDigest, out)
	}
	oneLineError(t, env.MustFail("push", srv.Addr+"/absent:v1"), 1, "An image does not exist locally with the tag: "+srv.Addr+"/absent")
	oneLineError(t, env.MustFail("push", "Bad/Ref"), 1, "invalid reference format")
}

// lastField returns the last space-separated word of out.
func lastField(out string) string {
	f := strings.Fields(out)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
