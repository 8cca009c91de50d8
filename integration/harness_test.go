package integration

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/fixtures"
	"github.com/berth-project/berth/integration/harness"
)

// TestHarnessRegistry checks that the test registry is up and serves every fixture.
func TestHarnessRegistry(t *testing.T) {
	harness.RequireRoot(t)
	addr := harness.Registry(t)
	set, err := fixtures.Standard()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range set.Names() {
		repo, tag, _ := strings.Cut(n, ":")
		req, err := http.NewRequest(http.MethodHead, "http://"+addr+"/v2/"+repo+"/manifests/"+tag, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", strings.Join([]string{
			"application/vnd.docker.distribution.manifest.v2+json",
			"application/vnd.docker.distribution.manifest.list.v2+json",
			"application/vnd.oci.image.manifest.v1+json",
			"application/vnd.oci.image.index.v1+json",
		}, ", "))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("HEAD %s: %v", n, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD manifest %s: %s", n, resp.Status)
		}
		if resp.Header.Get("Docker-Content-Digest") == "" {
			t.Errorf("manifest %s: no Docker-Content-Digest", n)
		}
	}
}

// TestHarnessVersion checks that the binary runs in a harness environment and that the
// environment starts empty and leaves nothing behind.
func TestHarnessVersion(t *testing.T) {
	env := harness.New(t)
	out := env.MustRun("version")
	if !strings.Contains(out, "Version:") {
		t.Errorf("berth version printed no version:\n%s", out)
	}
	res := env.Run("no-such-command")
	if res.Code == 0 {
		t.Errorf("berth no-such-command exited 0: %s", res)
	}
	if got := env.Image("busybox"); got != harness.Registry(t)+"/busybox:latest" {
		t.Errorf("Image(busybox) = %q", got)
	}
	for _, d := range []string{env.Root, env.RunRoot} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s: not a directory: %v", d, err)
		}
	}
	env.CheckNoLeaks()
}
