package integration

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/fixtures"
	"github.com/berth-project/berth/integration/harness"
	imagetypes "github.com/docker/docker/api/types/image"
)

// TestImageInspect checks Docker's inspect fields for the layered fixture.
func TestImageInspect(t *testing.T) {
	env := harness.New(t)
	ref := env.Pull("layered")
	var docs []imagetypes.InspectResponse
	if err := json.Unmarshal([]byte(env.MustRun("image", "inspect", ref)), &docs); err != nil || len(docs) != 1 {
		t.Fatalf("image inspect JSON: %v", err)
	}
	d := docs[0]
	want := fixtures.LayeredConfig()
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(d.ID) || len(d.RepoTags) != 1 || d.RepoTags[0] != ref ||
		len(d.RepoDigests) != 1 || !strings.HasPrefix(d.RepoDigests[0], strings.TrimSuffix(ref, ":latest")+"@sha256:") {
		t.Errorf("Id/RepoTags/RepoDigests: %s %v %v", d.ID, d.RepoTags, d.RepoDigests)
	}
	if d.Os != "linux" || d.Architecture == "" || d.Size <= 0 || d.Created == "" {
		t.Errorf("Os %q Architecture %q Size %d Created %q", d.Os, d.Architecture, d.Size, d.Created)
	}
	c := d.Config
	if c == nil || c.User != want.User || c.WorkingDir != want.WorkingDir || strings.Join(c.Entrypoint, " ") != strings.Join(want.Entrypoint, " ") ||
		strings.Join(c.Cmd, " ") != strings.Join(want.Cmd, " ") || c.Labels["com.example.fixture"] != "layered" || len(c.Env) != len(want.Env) {
		t.Errorf("Config: %+v", c)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts: %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("Volumes: %v", c.Volumes)
	}
	if d.RootFS.Type != "layers" || len(d.RootFS.Layers) != 3 {
		t.Errorf("RootFS: %+v", d.RootFS)
	}
	if d.GraphDriver.Name != "overlay2" || len(strings.Split(d.GraphDriver.Data["LowerDir"], ":")) != 2 {
		t.Errorf("GraphDriver: %+v", d.GraphDriver)
	}
	if _, err := os.Stat(d.GraphDriver.Data["UpperDir"] + "/etc/motd"); err != nil {
		t.Errorf("UpperDir is not the top layer: %v", err)
	}
	// As Docker: pull sets no tag time ("0001-01-01T00:00:00Z"); tag does.
	if got := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{json .Metadata.LastTagTime}}", ref)); !d.Metadata.LastTagTime.IsZero() || got != `"0001-01-01T00:00:00Z"` {
		t.Errorf("Metadata.LastTagTime after pull: %s", got)
	}
	env.MustRun("tag", ref, "retagged:v1")
	if got := env.MustRun("image", "inspect", "-f", "{{.Metadata.LastTagTime.IsZero}}", ref); got != "false\n" {
		t.Errorf("Metadata.LastTagTime after tag: IsZero %q", got)
	}
	env.MustRun("rmi", "retagged:v1")
	for tmpl, want := range map[string]string{
		"{{.Id}}":               d.ID,
		"{{.ID}}":               d.ID,
		"{{.Config.User}}":      "app",
		"{{json .Config.Cmd}}":  `["cat","/app/data.txt"]`,
		"{{index .RepoTags 0}}": ref,
	} {
		if got := strings.TrimSpace(env.MustRun("image", "inspect", "-f", tmpl, ref)); got != want {
			t.Errorf("inspect -f %s = %q, want %q", tmpl, got, want)
		}
	}
	// The top-level inspect finds images too.
	if got := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.Os}}", ref)); got != "linux" {
		t.Errorf("inspect -f {{.Os}} = %q", got)
	}
	res := env.MustFail("image", "inspect", "nope")
	if res.Code != 1 || strings.TrimSpace(res.Stdout) != "[]" || strings.TrimSpace(res.Stderr) != "Error response from daemon: No such image: nope:latest" {
		t.Errorf("inspect of a missing image: %s", res)
	}
}

// TestImageHistory checks history's columns and flags.
func TestImageHistory(t *testing.T) {
	env := harness.New(t)
	ref := env.Pull("layered")
	id := strings.TrimSpace(env.MustRun("images", "-q", ref))
	out := env.MustRun("history", ref)
	l := lines(out)
	if !regexp.MustCompile(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$`).MatchString(l[0]) {
		t.Errorf("history header %q", l[0])
	}
	if len(l) < 4 || !strings.HasPrefix(l[1], id+" ") {
		t.Fatalf("history:\n%s", out)
	}
	for _, row := range l[2:] {
		if !strings.HasPrefix(row, "<missing> ") {
			t.Errorf("older history rows are <missing>: %q", row)
		}
	}
	if !strings.Contains(out, "…") {
		t.Errorf("long CREATED BY values should be truncated with …:\n%s", out)
	}
	q := lines(env.MustRun("history", "-q", ref))
	if len(q) != len(l)-1 || q[0] != id || q[1] != "<missing>" {
		t.Errorf("history -q: %v", q)
	}
	nt := env.MustRun("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", ref)
	first := lines(nt)[0]
	if !strings.HasPrefix(first, "sha256:") || strings.Contains(nt, "…") {
		t.Errorf("history --no-trunc --format:\n%s", nt)
	}
	raw := lines(env.MustRun("history", "-H=false", "--format", "{{.Size}}", ref))
	for _, s := range raw {
		if !regexp.MustCompile(`^\d+$`).MatchString(s) {
			t.Errorf("history -H=false size %q", s)
		}
	}
	oneLineError(t, env.MustFail("history", "nope"), 1, "No such image: nope")
}
