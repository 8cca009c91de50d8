package storage

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// applied unpacks ents into a new folder, as a layer or an upper folder (whiteouts and opaque
// markers become overlay's).
func applied(t *testing.T, ents ...ent) string {
	t.Helper()
	d := t.TempDir()
	if _, err := Apply(d, bytes.NewReader(mkTar(t, ents...))); err != nil {
		t.Fatal(err)
	}
	return d
}

func changeLines(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s %s\n", c.Kind, c.Path)
	}
	return b.String()
}

func TestChanges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("whiteouts and trusted xattrs need root")
	}
	base := applied(t, dir("etc"), file("etc/passwd", "root"), file("etc/group", "root"),
		dir("app"), dir("app/old"), file("app/old/a", "a"), file("app/keep", "k"),
		dir("gone"), file("gone/x", "x"), dir("var"), dir("var/www"), file("var/www/i", "i"))
	// A second image layer deletes app/keep and makes var/www opaque.
	top := applied(t, dir("app"), whiteoutEnt("app/.wh.keep"), dir("var"), dir("var/www"),
		whiteoutEnt("var/www/.wh..wh..opq"), file("var/www/j", "j"))
	lowers := []string{top, base}
	later := time.Unix(1800000000, 0)
	newer := func(e ent) ent { e.mtime = later; return e }

	for _, tc := range []struct {
		name  string
		upper []ent
		skip  func(string) bool
		want  string
	}{
		{"nothing", nil, nil, ""},
		{"add at the root", []ent{file("new", "n")}, nil, "A /new\n"},
		{"modify keeps an unchanged parent out",
			[]ent{dir("etc"), file("etc/passwd", "changed")}, nil, "C /etc/passwd\n"},
		{"delete names the parent",
			[]ent{dir("etc"), whiteoutEnt("etc/.wh.group")}, nil, "C /etc\nD /etc/group\n"},
		{"changed folder time", []ent{newer(dir("etc")), file("etc/passwd", "x")}, nil, "C /etc\nC /etc/passwd\n"},
		{"deleted folder", []ent{whiteoutEnt(".wh.gone")}, nil, "D /gone\n"},
		{"path deleted by an image layer is new",
			[]ent{dir("app"), file("app/keep", "again")}, nil, "C /app\nA /app/keep\n"},
		{"path hidden by an image opaque folder is new",
			[]ent{dir("var"), dir("var/www"), file("var/www/i", "again"), file("var/www/j", "j2")}, nil,
			"C /var/www\nA /var/www/i\nC /var/www/j\n"},
		{"opaque folder replacing the image's",
			[]ent{dir("app"), dir("app/old"), whiteoutEnt("app/old/.wh..wh..opq"), file("app/old/a", "new a"), file("app/old/b", "b")}, nil,
			"C /app\nD /app/old\nA /app/old/a\nA /app/old/b\n"},
		{"new nested", []ent{dir("srv"), dir("srv/d"), file("srv/d/f", "f")}, nil, "A /srv\nA /srv/d\nA /srv/d/f\n"},
		{"skipped mount targets, folder time ignored",
			[]ent{newer(dir("etc")), file("etc/hosts", ""), file("etc/passwd", "x"), dir("proc")},
			func(rel string) bool { return rel == "etc/hosts" || rel == "proc" },
			"C /etc/passwd\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upper := applied(t, tc.upper...)
			got, err := Changes(lowers, upper, tc.skip)
			if err != nil {
				t.Fatal(err)
			}
			if s := changeLines(got); s != tc.want {
				t.Errorf("changes:\n%s\nwant:\n%s", s, tc.want)
			}
		})
	}
}

func TestDiffWithSkip(t *testing.T) {
	upper := applied(t, dir("etc"), file("etc/hosts", ""), file("etc/passwd", "x"), dir("proc"), dir("proc/1"), file("new", "n"))
	var buf bytes.Buffer
	skip := func(rel string) bool { return rel == "etc/hosts" || rel == "proc" }
	if err := DiffWith(upper, &buf, DiffOptions{Skip: skip}); err != nil {
		t.Fatal(err)
	}
	sum := tarSummary(t, buf.Bytes())
	for _, gone := range []string{"etc/hosts", "proc/", "proc/1/"} {
		if _, ok := sum[gone]; ok {
			t.Errorf("%s in the tar: %v", gone, sum)
		}
	}
	for _, want := range []string{"etc/", "etc/passwd", "new"} {
		if _, ok := sum[want]; !ok {
			t.Errorf("%s missing from the tar: %v", want, sum)
		}
	}
}
