package image

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is the registry name Docker prints; go-containerregistry calls it index.docker.io.
const (
	dockerHub      = "docker.io"
	dockerHubIndex = name.DefaultRegistry
	officialRepo   = "library/"
)

// errInvalidReference is Docker's wording for a reference that does not parse.
const errInvalidReference = "invalid reference format"

// ParseReference parses a user's image reference with Docker's defaults (Docker Hub, "library/",
// tag "latest"). Malformed input gives an errdefs.ErrInvalid error worded as Docker's.
func ParseReference(ref string) (name.Reference, error) {
	if ref == "" {
		return nil, errdefs.Invalid(errInvalidReference)
	}
	r, err := name.ParseReference(ref, name.WithDefaultRegistry(dockerHubIndex))
	if err != nil {
		// Docker singles out upper-case repository names.
		repo := ref
		if i := strings.IndexAny(repo, "@"); i >= 0 {
			repo = repo[:i]
		}
		if i := strings.LastIndex(repo, ":"); i >= 0 && !strings.Contains(repo[i:], "/") {
			repo = repo[:i]
		}
		if strings.IndexFunc(repo, unicode.IsUpper) >= 0 {
			if r2, err2 := name.ParseReference(strings.ToLower(ref), name.WithDefaultRegistry(dockerHubIndex)); err2 == nil {
				// Docker names the path as written; when its rules read the upper-case part as
				// a registry ("UPPER/x"), the lower-cased path is the clearer hint.
				remote := remoteName(ref)
				if strings.ToLower(remote) == remote {
					remote = r2.Context().RepositoryStr()
				}
				return nil, errdefs.Invalid(fmt.Sprintf("%s: repository name (%s) must be lowercase", errInvalidReference, remote))
			}
		}
		return nil, errdefs.Invalid(errInvalidReference)
	}
	return r, nil
}

// remoteName is the repository path of ref as written, as Docker's parser names it in its
// "must be lowercase" error: without the registry and the tag or digest, with "library/" for
// Docker Hub's official images ("UPPER" gives "library/UPPER").
func remoteName(ref string) string {
	s, _, _ := strings.Cut(ref, "@")
	domain, rest := dockerHub, s
	if i := strings.IndexRune(s, '/'); i >= 0 && (strings.ContainsAny(s[:i], ".:") || s[:i] == "localhost" || strings.ToLower(s[:i]) != s[:i]) {
		domain, rest = s[:i], s[i+1:]
	}
	if (domain == dockerHub || domain == dockerHubIndex) && !strings.Contains(rest, "/") {
		rest = officialRepo + rest
	}
	if i := strings.IndexRune(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// registryName is the registry as Docker prints it (docker.io, not index.docker.io).
func registryName(r name.Repository) string {
	if reg := r.RegistryStr(); reg != dockerHubIndex {
		return reg
	}
	return dockerHub
}

// fullName is the repository's full name as Docker prints it: "docker.io/library/busybox".
func fullName(r name.Repository) string { return registryName(r) + "/" + r.RepositoryStr() }

// familiarRepo is the repository's short name: "busybox", "user/app", "127.0.0.1:5000/app".
func familiarRepo(r name.Repository) string {
	if registryName(r) != dockerHub {
		return fullName(r)
	}
	repo := r.RepositoryStr()
	if rest, ok := strings.CutPrefix(repo, officialRepo); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return repo
}

// familiar renders a parsed reference in Docker's short form ("busybox:latest").
func familiar(r name.Reference) string {
	switch t := r.(type) {
	case name.Tag:
		return familiarRepo(t.Context()) + ":" + t.TagStr()
	case name.Digest:
		return familiarRepo(t.Context()) + "@" + t.DigestStr()
	}
	return r.String()
}

// normalized renders a parsed reference in Docker's full form ("docker.io/library/busybox:latest").
func normalized(r name.Reference) string {
	switch t := r.(type) {
	case name.Tag:
		return fullName(t.Context()) + ":" + t.TagStr()
	case name.Digest:
		return fullName(t.Context()) + "@" + t.DigestStr()
	}
	return r.String()
}

// Normalize returns ref in Docker's fully qualified form: "busybox" becomes
// "docker.io/library/busybox:latest", "busybox@sha256:…" "docker.io/library/busybox@sha256:…".
func Normalize(ref string) (string, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	return normalized(r), nil
}

// FamiliarName returns ref in Docker's short form, as Docker prints references: the reverse of
// Normalize ("docker.io/library/busybox:latest" becomes "busybox:latest"). A reference that does
// not parse is returned unchanged.
func FamiliarName(ref string) string {
	r, err := ParseReference(ref)
	if err != nil {
		return ref
	}
	return familiar(r)
}

// HasTagOrDigest tells whether the reference as written names a tag or digest; when it does
// not, `pull` prints Docker's "Using default tag: latest" first.
func HasTagOrDigest(ref string) bool {
	if strings.Contains(ref, "@") {
		return true
	}
	i := strings.LastIndex(ref, ":")
	return i >= 0 && !strings.Contains(ref[i:], "/")
}

// splitFamiliar splits a stored familiar reference ("busybox:latest", "busybox@sha256:…",
// "127.0.0.1:5000/app:v1") into repository and tag or digest.
func splitFamiliar(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], "", ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i:], "/") {
		return ref[:i], ref[i+1:], ""
	}
	return ref, "", ""
}
