package image

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// Filters are the --filter conditions of `images` and `image prune`, as Docker understands them.
type Filters struct {
	// Dangling is nil (no condition), or whether the image must have no tag.
	Dangling *bool
	// References are path.Match patterns on the familiar name ("busybox", "busy*:1.*").
	References []string
	// Before and Since are image references: only images created before / after them.
	Before, Since string
	// Labels are "key" or "key=value" conditions on the config labels; NotLabels negate (prune).
	Labels, NotLabels []string
	// Until keeps images created before this Go duration or timestamp ago (prune).
	Until string
}

// ParseFilters parses "key=value" filter arguments; allowed lists the keys the command accepts.
func ParseFilters(args []string, allowed ...string) (Filters, error) {
	var f Filters
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return f, errdefs.Invalid("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		ok = false
		for _, x := range allowed {
			ok = ok || x == k
		}
		if !ok {
			return f, errdefs.Invalid(fmt.Sprintf("invalid filter '%s'", k))
		}
		switch k {
		case "dangling":
			var b bool
			switch strings.ToLower(v) {
			case "true", "1":
				b = true
			case "false", "0":
				b = false
			default:
				return f, errdefs.Invalid(fmt.Sprintf("Invalid filter 'dangling=%s'", v))
			}
			f.Dangling = &b
		case "reference":
			if _, err := path.Match(v, ""); err != nil {
				return f, errdefs.Invalid(fmt.Sprintf("invalid reference pattern %q: %v", v, err))
			}
			f.References = append(f.References, v)
		case "before":
			f.Before = v
		case "since":
			f.Since = v
		case "label":
			f.Labels = append(f.Labels, v)
		case "label!":
			f.NotLabels = append(f.NotLabels, v)
		case "until":
			f.Until = v
		}
	}
	return f, nil
}

// matchReference reports whether the familiar reference ref ("busybox:latest") matches the
// pattern, against the whole reference or, when the pattern has no tag, the repository alone.
func matchReference(pattern, ref string) bool {
	if ok, _ := path.Match(pattern, ref); ok {
		return true
	}
	repo, _, _ := splitFamiliar(ref)
	ok, _ := path.Match(pattern, repo)
	return ok
}

// MatchingTags returns the tags of img that match f's reference patterns (all tags when there
// are none).
func (f Filters) MatchingTags(img *Image) []string { return f.matching(img.RepoTags) }

// MatchingDigests returns the digest references of img that match f's reference patterns (all
// of them when there are none): Docker matches "busybox" against "busybox@sha256:…" too.
func (f Filters) MatchingDigests(img *Image) []string { return f.matching(img.RepoDigests) }

func (f Filters) matching(refs []string) []string {
	if len(f.References) == 0 {
		return refs
	}
	var out []string
	for _, t := range refs {
		for _, p := range f.References {
			if matchReference(p, t) {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

func labelMatch(labels map[string]string, cond string) bool {
	k, v, hasValue := strings.Cut(cond, "=")
	got, ok := labels[k]
	return ok && (!hasValue || got == v)
}

// Select returns the images of all that pass f, in the same order. Before and Since are
// resolved within s.
func (s *Store) Select(all []*Image, f Filters) ([]*Image, error) {
	var before, since *Image
	var err error
	if f.Before != "" {
		if before, err = s.Resolve(f.Before); err != nil {
			return nil, err
		}
	}
	if f.Since != "" {
		if since, err = s.Resolve(f.Since); err != nil {
			return nil, err
		}
	}
	parents := map[string]bool{}
	for _, img := range all {
		if img.Parent != "" {
			parents[img.Parent] = true
		}
	}
	var out []*Image
	for _, img := range all {
		// As Docker's: dangling=true lists untagged images that are the parent of no other
		// image (an intermediate image goes with its child); dangling=false tagged ones only.
		untagged := len(img.RepoTags) == 0
		if f.Dangling != nil && (*f.Dangling != untagged || (untagged && parents[img.ID])) {
			continue
		}
		if len(f.References) > 0 && len(f.MatchingTags(img))+len(f.MatchingDigests(img)) == 0 {
			continue
		}
		if before != nil && !img.Created.Before(before.Created) {
			continue
		}
		if since != nil && !img.Created.After(since.Created) {
			continue
		}
		var labels map[string]string
		if img.Config != nil {
			labels = img.Config.Config.Labels
		}
		keep := true
		for _, l := range f.Labels {
			keep = keep && labelMatch(labels, l)
		}
		for _, l := range f.NotLabels {
			keep = keep && !labelMatch(labels, l)
		}
		if !keep {
			continue
		}
		out = append(out, img)
	}
	return out, nil
}

// untilFilter keeps images created before a cutoff.
type untilFilter struct{ cutoff time.Time }

func (u untilFilter) keep(created time.Time) bool { return created.Before(u.cutoff) }

// parseUntil accepts a Go duration ("24h", meaning that long ago), a Unix timestamp, or an
// RFC 3339 date or date-time, as Docker's until filter does.
func parseUntil(v string) (untilFilter, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return untilFilter{time.Now().Add(-d)}, nil
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return untilFilter{time.Unix(int64(secs), 0)}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return untilFilter{t}, nil
		}
	}
	return untilFilter{}, errdefs.Invalid(fmt.Sprintf("invalid filter 'until=%s'", v))
}
