package integration

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/fixtures"
	"github.com/berth-project/berth/integration/harness"
)

// TestImagePullOutput checks Docker's pull output, -q, up-to-date pulls and pulls by digest.
func TestImagePullOutput(t *testing.T) {
	env := harness.New(t)
	addr := harness.Registry(t)
	ref := addr + "/busybox"

	out := env.MustRun("pull", ref)
	l := lines(out)
	if len(l) < 6 {
		t.Fatalf("pull output too short:\n%s", out)
	}
	if l[0] != "Using default tag: latest" || l[1] != "latest: Pulling from busybox" {
		t.Errorf("pull header:\n%s", out)
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}: Pulling fs layer$`).MatchString(l[2]) {
		t.Errorf("layer line %q", l[2])
	}
	if !regexp.MustCompile(`(?m)^[0-9a-f]{12}: Pull complete$`).MatchString(out) {
		t.Errorf("no Pull complete line:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^Digest: sha256:[0-9a-f]{64}$`).MatchString(out) {
		t.Errorf("no Digest line:\n%s", out)
	}
	if l[len(l)-2] != "Status: Downloaded newer image for "+ref+":latest" || l[len(l)-1] != ref+":latest" {
		t.Errorf("pull trailer:\n%s", out)
	}

	// Docker prints no layer lines for an image it already has.
	out = env.MustRun("pull", ref+":latest")
	if want := "latest: Pulling from busybox\n" + l[len(l)-3] + "\nStatus: Image is up to date for " + ref + ":latest\n" + ref + ":latest\n"; out != want {
		t.Errorf("second pull:\n%s\nwant:\n%s", out, want)
	}
	// Another tag of a stored image: its layers exist, the tag is new.
	env.MustRun("rmi", ref+":latest")
	env.MustRun("pull", "-q", ref+":1.35")
	out = env.MustRun("pull", ref)
	if !strings.Contains(out, "Status: Downloaded newer image for "+ref+":latest") {
		t.Errorf("pull of a new tag of a stored image:\n%s", out)
	}
	if out := env.MustRun("pull", "-q", ref+":1.35"); out != ref+":1.35\n" {
		t.Errorf("pull -q printed %q", out)
	}
	digest := regexp.MustCompile(`Digest: (\S+)`).FindStringSubmatch(env.MustRun("pull", ref))[1]
	out = env.MustRun("pull", ref+"@"+digest)
	if !strings.HasSuffix(out, ref+"@"+digest+"\n") || !strings.Contains(out, digest+": Pulling from busybox") ||
		!strings.Contains(out, "Status: Image is up to date for "+ref+"@"+digest) {
		t.Errorf("pull by digest:\n%s", out)
	}
	if ids := imageIDs(t, env); len(ids) != 1 {
		t.Errorf("busybox:latest, :1.35 and @digest are one image, got %v", ids)
	}
	assertNoTemporaries(t, env)
}

// TestImagePullKinds pulls every fixture kind: OCI and Docker media types, zstd layers, and
// multi-platform indexes (host platform by default, --platform otherwise).
func TestImagePullKinds(t *testing.T) {
	env := harness.New(t)
	for _, n := range []string{"layered", "layered-oci", "zstd", "multi", "multi-docker"} {
		env.Pull(n)
	}
	platformOf := func(ref string) string {
		upper := env.MustRun("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", ref)
		return strings.TrimSpace(readFile(t, filepath.Join(strings.TrimSpace(upper), "etc", "berth-platform")))
	}
	if got := platformOf(env.Image("multi")); got != "linux/amd64" && got != "linux/arm64/v8" {
		t.Errorf("multi: host platform image has %q", got)
	}
	env.MustRun("pull", "-q", "--platform", "linux/arm64", env.Image("multi-docker"))
	if got := platformOf(env.Image("multi-docker")); got != "linux/arm64/v8" {
		t.Errorf("--platform linux/arm64 pulled %q", got)
	}
	if got := env.MustRun("image", "inspect", "-f", "{{.Architecture}}", env.Image("multi-docker")); got != "arm64\n" {
		t.Errorf("arm64 image architecture %q", got)
	}
	upper := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", env.Image("zstd")))
	if _, err := os.Stat(filepath.Join(upper, "zstd", "hello.txt")); err != nil {
		t.Errorf("zstd layer not unpacked: %v", err)
	}
	a := env.MustRun("image", "inspect", "-f", "{{.RootFS.Layers}}", env.Image("layered"))
	b := env.MustRun("image", "inspect", "-f", "{{.RootFS.Layers}}", env.Image("layered-oci"))
	if a != b {
		t.Errorf("Docker and OCI media types should unpack the same layers: %s vs %s", a, b)
	}
	assertNoTemporaries(t, env)
}

// TestImagePullErrors checks each failure: one line on stderr, exit 1, nothing stored.
func TestImagePullErrors(t *testing.T) {
	env := harness.New(t)
	addr := harness.Registry(t)
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	down := "127.0.0.1:" + strconv.Itoa(port)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"pull", addr + "/busybox:nope"}, "Error response from daemon: manifest for " + addr + "/busybox:nope not found: manifest unknown"},
		{[]string{"pull", addr + "/nosuchrepo"}, "not found"},
		{[]string{"pull", down + "/busybox"}, `Error response from daemon: Get "http://` + down + `/v2/": dial tcp ` + down},
		{[]string{"pull", addr + "/foreign"}, "Error response from daemon: no matching manifest for linux/"},
		{[]string{"pull", "--platform", "linux/s390x", addr + "/multi"}, "no matching manifest for linux/s390x in the manifest list entries"},
		{[]string{"pull", "--platform", "linux/s390x", addr + "/busybox"}, "does not match the specified platform: wanted linux/s390x, actual: linux/"},
		{[]string{"pull", "Inv@lid"}, "invalid reference format"},
		{[]string{"pull", "UPPER/case"}, "invalid reference format: repository name (upper/case) must be lowercase"},
		{[]string{"pull", addr + "/busybox@sha256:" + strings.Repeat("0", 64)}, "not found"},
		{[]string{"pull", "--platform", "nonsense", addr + "/busybox"}, `invalid platform "nonsense"`},
	}
	for _, c := range cases {
		oneLineError(t, env.MustFail(c.args...), 1, c.want)
	}
	if ids := imageIDs(t, env); len(ids) != 0 {
		t.Errorf("failed pulls stored images: %v", ids)
	}
	if res := env.MustFail("pull"); res.Code != 1 {
		t.Errorf("pull without an argument: %s", res)
	}
	assertNoTemporaries(t, env)
}

// TestImagePullWrongDigest serves a layer whose content does not match its digest.
func TestImagePullWrongDigest(t *testing.T) {
	env := harness.New(t)
	srv := harness.NewRegistry(t)
	set, err := fixtures.Standard()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := set.Subset("layered:latest")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sub.Push(ctx, srv.Addr); err != nil {
		t.Fatal(err)
	}
	layers, _ := set.Images["layered:latest"].Layers()
	d, _ := layers[2].Digest()
	data := filepath.Join(srv.Dir, "storage", "docker", "registry", "v2", "blobs", "sha256", d.Hex[:2], d.Hex, "data")
	orig := readFile(t, data)
	bad := []byte(orig)
	bad[len(bad)/2] ^= 0xff
	if err := os.WriteFile(data, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := srv.Addr + "/layered:latest"
	oneLineError(t, env.MustFail("pull", "-q", ref), 1, "filesystem layer verification failed for digest "+d.String())
	if ids := imageIDs(t, env); len(ids) != 0 {
		t.Errorf("a pull with a bad layer stored images: %v", ids)
	}
	if _, err := os.Stat(filepath.Join(env.Root, "blobs", "sha256", d.Hex)); err == nil {
		t.Error("the corrupt blob was stored")
	}
	assertNoTemporaries(t, env)
	// Once the registry serves the right content, the same root completes the pull.
	if err := os.WriteFile(data, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	env.MustRun("pull", "-q", ref)
}

// TestImagePullConcurrent runs two pulls of the same image at once, as from two shells.
func TestImagePullConcurrent(t *testing.T) {
	env := harness.New(t)
	ref := env.Image("layered")
	var wg sync.WaitGroup
	res := make([]harness.Result, 3)
	for i := range res {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = env.Run("pull", ref) }()
	}
	wg.Wait()
	for _, r := range res {
		if r.Code != 0 {
			t.Errorf("concurrent pull failed: %s", r)
		}
	}
	if ids := imageIDs(t, env); len(ids) != 1 {
		t.Errorf("concurrent pulls stored %v", ids)
	}
	if n := len(layerDirs(t, env)); n != 3 {
		t.Errorf("%d layers stored, want 3 (one copy each)", n)
	}
	assertNoTemporaries(t, env)
}
