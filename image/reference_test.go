package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	dig := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		in, full, familiar string
	}{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.35", "docker.io/library/busybox:1.35", "busybox:1.35"},
		{"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"user/app:v2", "docker.io/user/app:v2", "user/app:v2"},
		{"localhost/app", "localhost/app:latest", "localhost/app:latest"},
		{"127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox:latest"},
		{"quay.io/org/app:1", "quay.io/org/app:1", "quay.io/org/app:1"},
		{"busybox@" + dig, "docker.io/library/busybox@" + dig, "busybox@" + dig},
		{"127.0.0.1:5000/a/b@" + dig, "127.0.0.1:5000/a/b@" + dig, "127.0.0.1:5000/a/b@" + dig},
	}
	for _, c := range cases {
		full, err := Normalize(c.in)
		if err != nil {
			t.Errorf("Normalize(%q): %v", c.in, err)
			continue
		}
		if full != c.full {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, full, c.full)
		}
		if got := FamiliarName(full); got != c.familiar {
			t.Errorf("FamiliarName(%q) = %q, want %q", full, got, c.familiar)
		}
	}
}

func TestNormalizeInvalid(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                           "invalid reference format",
		"Inv@lid":                    "invalid reference format",
		"busybox:":                   "invalid reference format",
		"a b":                        "invalid reference format",
		"busybox@sha256":             "invalid reference format",
		"http://x/y":                 "invalid reference format",
		"Busybox":                    "invalid reference format: repository name (library/Busybox) must be lowercase",
		"me/App:v1":                  "invalid reference format: repository name (me/App) must be lowercase",
		"ghcr.io/HeyWillow/willow:1": "invalid reference format: repository name (HeyWillow/willow) must be lowercase",
		"127.0.0.1:5000/Up@sha256:" + strings.Repeat("a", 64): "invalid reference format: repository name (Up) must be lowercase",
	}
	for in, want := range cases {
		_, err := Normalize(in)
		if err == nil {
			t.Errorf("Normalize(%q) succeeded", in)
			continue
		}
		if !errors.Is(err, errdefs.ErrInvalid) || err.Error() != want {
			t.Errorf("Normalize(%q) = %q, want %q (ErrInvalid)", in, err, want)
		}
	}
}

func TestSplitFamiliar(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, repo, tag, digest string }{
		{"busybox:latest", "busybox", "latest", ""},
		{"127.0.0.1:5000/app:v1", "127.0.0.1:5000/app", "v1", ""},
		{"127.0.0.1:5000/app", "127.0.0.1:5000/app", "", ""},
		{"busybox@sha256:abc", "busybox", "", "sha256:abc"},
	}
	for _, c := range cases {
		r, tg, d := splitFamiliar(c.in)
		if r != c.repo || tg != c.tag || d != c.digest {
			t.Errorf("splitFamiliar(%q) = %q %q %q", c.in, r, tg, d)
		}
	}
}

func TestHasExplicitTagOrDigest(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"busybox": false, "busybox:1": true, "127.0.0.1:5000/a": false, "127.0.0.1:5000/a:b": true, "a@sha256:x": true,
	} {
		if got := HasTagOrDigest(in); got != want {
			t.Errorf("HasTagOrDigest(%q) = %v", in, got)
		}
	}
}
