package image

import (
	"testing"
	"time"
)

func TestParseFilters(t *testing.T) {
	t.Parallel()
	allowed := []string{"dangling", "reference", "before", "since", "label"}
	good := [][]string{
		{"dangling=true"}, {"dangling=false"}, {"reference=busy*"}, {"label=a=b", "label=c"}, {"before=busybox"},
	}
	for _, g := range good {
		if _, err := ParseFilters(g, allowed...); err != nil {
			t.Errorf("ParseFilters(%v): %v", g, err)
		}
	}
	bad := map[string]string{
		"dangling=maybe": "Invalid filter 'dangling=maybe'",
		"color=red":      "invalid filter 'color'",
		"noequals":       "bad format of filter (expected name=value)",
		"reference=[":    `invalid reference pattern "[": syntax error in pattern`,
	}
	for in, want := range bad {
		_, err := ParseFilters([]string{in}, allowed...)
		if err == nil || err.Error() != want {
			t.Errorf("ParseFilters(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestMatchReference(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, ref string
		want         bool
	}{
		{"busybox", "busybox:latest", true},
		{"busybox:latest", "busybox:latest", true},
		{"busybox:1.*", "busybox:latest", false},
		{"busy*", "busybox:1.35", true},
		{"*/app", "127.0.0.1:5000/app:v1", true},
		{"*/app", "a/b/app:v1", false},
		{"127.0.0.1:5000/*", "127.0.0.1:5000/app:v1", true},
		{"alpine", "busybox:latest", false},
	}
	for _, c := range cases {
		if got := matchReference(c.pattern, c.ref); got != c.want {
			t.Errorf("matchReference(%q, %q) = %v", c.pattern, c.ref, got)
		}
	}
}

func TestParseUntil(t *testing.T) {
	t.Parallel()
	u, err := parseUntil("1h")
	if err != nil || !u.keep(time.Now().Add(-2*time.Hour)) || u.keep(time.Now()) {
		t.Errorf("until=1h: %v %v", u, err)
	}
	if _, err := parseUntil("2024-01-02"); err != nil {
		t.Error(err)
	}
	if _, err := parseUntil("soon"); err == nil {
		t.Error("until=soon accepted")
	}
}
