package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/fixtures"
	"github.com/berth-project/berth/integration/harness"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestImageSaveLoad round-trips images through save, rmi and load (file and pipes).
func TestImageSaveLoad(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	layered := env.Pull("layered")
	env.MustRun("tag", bb, "mybox:v1")
	before := env.MustRun("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	motd := readFile(t, filepath.Join(strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", layered)), "etc", "motd"))
	archive := filepath.Join(t.TempDir(), "images.tar")
	env.MustRun("save", "-o", archive, bb, layered, "mybox")

	tf, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	tr := tar.NewReader(tf)
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[h.Name] = true
		if h.Name == "manifest.json" {
			json.NewDecoder(tr).Decode(&manifest)
		}
	}
	tf.Close()
	if !names["manifest.json"] || !names["repositories"] || len(manifest) != 2 {
		t.Fatalf("archive entries %v, manifest %+v", names, manifest)
	}

	env.MustRun("rmi", "-f", bb, layered, "mybox:v1")
	if ids := imageIDs(t, env); len(ids) != 0 {
		t.Fatalf("images left before load: %v", ids)
	}
	out := env.MustRun("load", "-i", archive)
	for _, want := range []string{"Loaded image: " + bb, "Loaded image: " + layered, "Loaded image: mybox:v1"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("load output lacks %q:\n%s", want, out)
		}
	}
	after := env.MustRun("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	if sortedLines(after) != sortedLines(before) {
		t.Errorf("images differ after save/rmi/load:\n%s\nvs\n%s", before, after)
	}
	upper := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", layered))
	if got := readFile(t, filepath.Join(upper, "etc", "motd")); got != motd {
		t.Errorf("loaded layer content %q", got)
	}

	// save to stdout | load from stdin, by ID: the image comes back untagged.
	id := strings.TrimSpace(env.MustRun("images", "-q", "--no-trunc", layered))
	var buf bytes.Buffer
	cmd := env.Command(t.Context(), "save", id)
	cmd.Stdout = &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("save to stdout: %v", err)
	}
	other := harness.New(t)
	if got := other.RunWithStdin(&buf, "load"); got.Code != 0 || got.Stdout != "Loaded image ID: "+id+"\n" {
		t.Errorf("load from stdin: %s", got)
	}

	// Errors: garbage, missing file, missing image.
	oneLineError(t, env.MustFail("load", "-i", "/nonexistent.tar"), 1, "no such file or directory")
	if got := env.RunWithStdin(strings.NewReader("not an archive"), "load"); got.Code != 1 || !strings.Contains(got.Stderr, "invalid archive") {
		t.Errorf("load of garbage: %s", got)
	}
	oneLineError(t, env.MustFail("save", "-o", filepath.Join(t.TempDir(), "x.tar"), "nope"), 1, "No such image: nope")
	assertNoTemporaries(t, env)
}

func sortedLines(s string) string {
	l := lines(s)
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j] < l[i] {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	return strings.Join(l, "\n")
}

// TestImageLoadForeignArchives loads archives written by other tools: go-containerregistry's
// docker-archive (`docker save` layout) and an OCI image layout.
func TestImageLoadForeignArchives(t *testing.T) {
	env := harness.New(t)
	set, err := fixtures.Standard()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dockerArchive := filepath.Join(dir, "docker.tar")
	if err := set.WriteArchive(dockerArchive, "busybox:latest", "layered:latest"); err != nil {
		t.Fatal(err)
	}
	out := env.MustRun("load", "-i", dockerArchive)
	if !strings.Contains(out, "Loaded image: busybox:latest\n") || !strings.Contains(out, "Loaded image: layered:latest\n") {
		t.Errorf("load docker archive:\n%s", out)
	}
	if got := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.Config.User}}", "layered")); got != "app" {
		t.Errorf("loaded layered config user %q", got)
	}
	// Loading again after busybox:latest moved elsewhere moves it back, as Docker reports.
	layeredID := strings.TrimSpace(env.MustRun("images", "-q", "--no-trunc", "layered"))
	env.MustRun("tag", "layered", "busybox")
	out = env.MustRun("load", "-i", dockerArchive)
	if !strings.Contains(out, "The image busybox:latest already exists, renaming the old one with ID "+layeredID+" to empty string\n") {
		t.Errorf("reload after retag:\n%s", out)
	}

	// OCI layout: a directory written by go-containerregistry, tarred.
	lp, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(set.Images["layered-oci:latest"], layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          "docker.io/library/fromoci:v1",
		"org.opencontainers.image.ref.name": "v1",
	})); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	tarDir(t, filepath.Join(dir, "oci"), ociTar)
	out = env.MustRun("load", "-i", ociTar)
	if out != "Loaded image: fromoci:v1\n" {
		t.Errorf("load OCI archive: %q", out)
	}
	a := env.MustRun("image", "inspect", "-f", "{{.Id}}", "fromoci:v1")
	want, _ := set.Images["layered-oci:latest"].ConfigName()
	if strings.TrimSpace(a) != want.String() {
		t.Errorf("OCI image ID %s, want %s", a, want)
	}
}

func tarDir(t *testing.T, dir, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestImageImport imports a filesystem tarball from a file, stdin and a URL, with changes.
func TestImageImport(t *testing.T) {
	env := harness.New(t)
	rootfs, err := fixtures.RootfsTar()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(file, rootfs, 0o644); err != nil {
		t.Fatal(err)
	}
	out := env.MustRun("import", "-m", "from a file", "-c", `CMD ["sh"]`, "-c", "ENV A=1", "-c", "WORKDIR /srv",
		"-c", "EXPOSE 80", "-c", "USER nobody", "-c", "LABEL k=v", file, "imported:v1")
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Errorf("import printed %q", out)
	}
	cfg := env.MustRun("image", "inspect", "-f", "{{json .Config.Cmd}} {{.Config.Env}} {{.Config.WorkingDir}} {{.Config.User}} {{.Config.Labels.k}} {{.Comment}}", "imported:v1")
	if cfg != `["sh"] [A=1] /srv nobody v from a file`+"\n" {
		t.Errorf("imported config: %q", cfg)
	}
	if h := env.MustRun("history", "--format", "{{.Comment}}", "imported:v1"); h != "from a file\n" {
		t.Errorf("imported history: %q", h)
	}
	res := env.RunWithStdin(bytes.NewReader(rootfs), "import", "-", "fromstdin")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != strings.TrimSpace(env.MustRun("images", "-q", "--no-trunc", "fromstdin")) {
		t.Errorf("import from stdin: %s", res)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(rootfs) }))
	defer srv.Close()
	env.MustRun("import", srv.URL+"/rootfs.tar", "fromurl:v2")
	if h := env.MustRun("history", "--format", "{{.Comment}}", "fromurl:v2"); h != "Imported from "+srv.URL+"/rootfs.tar\n" {
		t.Errorf("import from URL history: %q", h)
	}
	oneLineError(t, env.MustFail("import", "-c", "RUN make", file), 1, "RUN is not a valid change command")
	oneLineError(t, env.MustFail("import", "/nonexistent.tar"), 1, "no such file or directory")
	oneLineError(t, env.MustFail("import", file, "Bad:Ref"), 1, "invalid reference format")
	assertNoTemporaries(t, env)
}

// TestImagePrune checks image prune (dangling, -a) and its output.
func TestImagePrune(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	layered := env.Pull("layered")
	if out := env.MustRun("image", "prune", "-f"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("prune with nothing dangling: %q", out)
	}
	env.MustRun("tag", bb, layered) // layered's image is now dangling
	out := env.MustRun("image", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Images:\n") || !regexp.MustCompile(`(?m)^deleted: sha256:[0-9a-f]{64}$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^Total reclaimed space: [0-9.]+[kM]?B$`).MatchString(out) {
		t.Errorf("prune:\n%s", out)
	}
	if ids := imageIDs(t, env); len(ids) != 1 {
		t.Errorf("after prune: %v", ids)
	}
	res := env.RunWithStdin(strings.NewReader("n\n"), "image", "prune", "-a")
	if res.Code == 0 || !strings.Contains(res.Stdout, "Are you sure you want to continue? [y/N]") {
		t.Errorf("prune -a answered no: %s", res)
	}
	if ids := imageIDs(t, env); len(ids) != 1 {
		t.Errorf("declined prune removed images: %v", ids)
	}
	out = env.MustRun("image", "prune", "-a", "-f")
	if !strings.Contains(out, "untagged: "+bb) {
		t.Errorf("prune -a:\n%s", out)
	}
	if ids := imageIDs(t, env); len(ids) != 0 || len(layerDirs(t, env)) != 0 {
		t.Errorf("prune -a left images %v / layers", ids)
	}
}
