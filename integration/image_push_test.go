package integration

import (
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
	oneLineError(t, env.MustFail("push", srv.Addr+"/absent:v1"), 1, "An image does not exist locally with the tag: "+srv.Addr+"/absent")
	oneLineError(t, env.MustFail("push", "Bad/Ref"), 1, "invalid reference format")
}
