package integration

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// TestImageLs checks `images` / `image ls`: columns, -q, --digests, --no-trunc, filters, formats.
func TestImageLs(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	layered := env.Pull("layered")
	repo := strings.TrimSuffix(bb, ":latest")
	env.MustRun("tag", bb, "mybox:v1")

	out := env.MustRun("images")
	l := lines(out)
	if !regexp.MustCompile(`^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$`).MatchString(l[0]) {
		t.Errorf("header %q", l[0])
	}
	if len(l) != 4 {
		t.Fatalf("want 3 rows:\n%s", out)
	}
	// Columns are aligned: every row starts its TAG column where the header does.
	tagCol := strings.Index(l[0], "TAG")
	for _, row := range l[1:] {
		if row[tagCol-1] != ' ' || row[tagCol] == ' ' {
			t.Errorf("row %q not aligned with header %q", row, l[0])
		}
		if !regexp.MustCompile(`[0-9a-f]{12} +(\d+|About an?|Less than).* ago +[0-9.]+[kM]?B$`).MatchString(row) {
			t.Errorf("row %q", row)
		}
	}
	if same := env.MustRun("image", "ls"); same != out {
		t.Errorf("image ls differs from images:\n%s\n%s", same, out)
	}

	q := lines(env.MustRun("images", "-q"))
	if len(q) != 2 || !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(q[0]) {
		t.Errorf("images -q: %v", q)
	}
	full := lines(env.MustRun("images", "-q", "--no-trunc"))
	if len(full) != 2 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(full[0]) {
		t.Errorf("images -q --no-trunc: %v", full)
	}
	dig := env.MustRun("images", "--digests", repo)
	if !regexp.MustCompile(`(?m)^REPOSITORY +TAG +DIGEST +IMAGE ID`).MatchString(dig) ||
		!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(repo)+` +latest +sha256:[0-9a-f]{64} +[0-9a-f]{12}`).MatchString(dig) {
		t.Errorf("images --digests:\n%s", dig)
	}
	if got := env.MustRun("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=mybox"); got != "mybox:v1\n" {
		t.Errorf("reference filter: %q", got)
	}
	if got := lines(env.MustRun("images", "--format", "{{.Repository}}", "--filter", "reference=*/layered")); len(got) != 1 || got[0] != strings.TrimSuffix(layered, ":latest") {
		t.Errorf("reference=*/layered: %v", got)
	}
	if got := env.MustRun("images", "-q", "--filter", "dangling=true"); got != "" {
		t.Errorf("dangling=true with no dangling image: %q", got)
	}
	var row map[string]string
	js := lines(env.MustRun("images", "--format", "json", "mybox"))
	if len(js) != 1 || json.Unmarshal([]byte(js[0]), &row) != nil || row["Repository"] != "mybox" || row["Tag"] != "v1" || row["Size"] == "" || row["CreatedSince"] == "" {
		t.Errorf("--format json: %v", js)
	}
	tbl := lines(env.MustRun("images", "--format", "table {{.Repository}}\t{{.Tag}}", "mybox"))
	if len(tbl) != 2 || !regexp.MustCompile(`^REPOSITORY +TAG$`).MatchString(tbl[0]) || !regexp.MustCompile(`^mybox +v1$`).MatchString(tbl[1]) {
		t.Errorf("--format table: %q", tbl)
	}

	// Moving the only tag away from layered's image leaves it dangling.
	env.MustRun("tag", bb, layered)
	dangling := lines(env.MustRun("images", "--filter", "dangling=true", "--format", "{{.Repository}} {{.Tag}}"))
	if len(dangling) != 1 || !strings.HasSuffix(dangling[0], " <none>") {
		t.Errorf("dangling after retag: %v", dangling)
	}
	oneLineError(t, env.MustFail("images", "--filter", "color=red"), 1, "invalid filter 'color'")
	oneLineError(t, env.MustFail("images", "--filter", "dangling=maybe"), 1, "Invalid filter 'dangling=maybe'")
}
