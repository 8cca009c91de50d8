package integration

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// cacheEntries lists the compiled seccomp programs in the store's cache with their sizes.
func cacheEntries(t *testing.T, env *harness.Env) map[string]int64 {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(env.Root, "seccomp"))
	if err != nil {
		t.Fatalf("seccomp cache: %v", err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Size()
	}
	return out
}

// The compiled seccomp programs are cached per profile: a rerun is served from the cache and
// still confines the container with its own profile, never another's, and a damaged entry is
// regenerated.
func TestContainerSeccompProfileAndCache(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	profile := filepath.Join(t.TempDir(), "nomkdir.json")
	if err := os.WriteFile(profile, []byte(`{
		"defaultAction": "SCMP_ACT_ALLOW",
		"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
	}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mode := func() string {
		out := env.MustRun("run", "--rm", "--network", "none", img, "grep", "^Seccomp:", "/proc/self/status")
		return strings.Fields(out)[1]
	}
	mkdir := func(args ...string) harness.Result {
		return env.Run(append(append([]string{"run", "--rm", "--network", "none"}, args...), img, "mkdir", "/tmp/d")...)
	}
	wantDenied := func(what string) {
		t.Helper()
		res := mkdir("--security-opt", "seccomp="+profile)
		if res.Code == 0 || !strings.Contains(res.Stderr, "Operation not permitted") {
			t.Fatalf("%s: mkdir under a profile that denies it: %s", what, res)
		}
	}

	if m := mode(); m != "2" {
		t.Fatalf("default profile: Seccomp mode %s, want 2", m)
	}
	if n := len(cacheEntries(t, env)); n != 1 {
		t.Fatalf("cache after one default run: %d entries, want 1", n)
	}
	wantDenied("first custom run")
	first := cacheEntries(t, env)
	if len(first) != 2 {
		t.Fatalf("cache after a second profile: %v, want 2 entries", first)
	}

	// Served from the cache now: each container still gets its own profile.
	wantDenied("cached custom run")
	if res := mkdir(); res.Code != 0 {
		t.Fatalf("mkdir under the default profile (cached): %s", res)
	}
	if m := mode(); m != "2" {
		t.Fatalf("cached default profile: Seccomp mode %s, want 2", m)
	}
	if got := cacheEntries(t, env); len(got) != 2 {
		t.Fatalf("cache after reruns: %v, want the same 2 entries", got)
	}
	// exec into a running container goes through the same cache.
	env.MustRun("run", "-d", "--name", "sc", "--network", "none", "--security-opt", "seccomp="+profile, img, "sleep", "100")
	if res := env.Run("exec", "sc", "mkdir", "/tmp/e"); res.Code == 0 {
		t.Fatalf("exec mkdir under a profile that denies it: %s", res)
	}
	env.MustRun("rm", "-f", "sc")

	// A damaged entry is not trusted: the program is compiled again and the entry rewritten.
	dir := filepath.Join(env.Root, "seccomp")
	for name, size := range first {
		if err := os.Truncate(filepath.Join(dir, name), size/2); err != nil {
			t.Fatal(err)
		}
	}
	wantDenied("after damaging the cache")
	if m := mode(); m != "2" {
		t.Fatalf("default profile after damaging the cache: Seccomp mode %s", m)
	}
	if got := cacheEntries(t, env); !maps.Equal(got, first) {
		t.Fatalf("cache after repair: %v, want %v", got, first)
	}

	// A profile that is not JSON fails the run before anything starts.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{"), 0o644)
	if res := env.Run("run", "--rm", "--security-opt", "seccomp="+bad, img, "true"); res.Code != 125 {
		t.Fatalf("run with a malformed profile: %s", res)
	}
	if res := env.Run("run", "--rm", "--security-opt", "seccomp=/nonexistent.json", img, "true"); res.Code != 125 {
		t.Fatalf("run with a missing profile: %s", res)
	}
}
