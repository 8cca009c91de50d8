package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// lines splits command output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// layerDirs lists the unpacked layers (by chain ID) in env's root.
func layerDirs(t *testing.T, env *harness.Env) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(env.Root, "layers", "[0-9a-f]*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// assertNoTemporaries fails when a download or unpack left temporary files in env's root.
func assertNoTemporaries(t *testing.T, env *harness.Env) {
	t.Helper()
	a, _ := filepath.Glob(filepath.Join(env.Root, "blobs", "tmp", "*"))
	b, _ := filepath.Glob(filepath.Join(env.Root, "layers", "tmp-*"))
	c, _ := filepath.Glob(filepath.Join(env.Root, "tmp", "*"))
	if len(a)+len(b)+len(c) > 0 {
		t.Errorf("temporary files left in the store: %v %v %v", a, b, c)
	}
}

// imageIDs returns `images -q --no-trunc`.
func imageIDs(t *testing.T, env *harness.Env) []string {
	t.Helper()
	return lines(env.MustRun("images", "-q", "--no-trunc"))
}

// oneLineError checks a failed command: exit code, exactly one stderr line containing want.
func oneLineError(t *testing.T, res harness.Result, code int, want string) {
	t.Helper()
	if res.Code != code {
		t.Errorf("exit %d, want %d: %s", res.Code, code, res)
	}
	errLines := lines(res.Stderr)
	if len(errLines) != 1 || !strings.Contains(errLines[0], want) {
		t.Errorf("stderr should be one line containing %q: %s", want, res)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
