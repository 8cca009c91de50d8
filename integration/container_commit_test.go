package integration

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/fixtures"
	"github.com/berth-project/berth/integration/harness"
)

var imageIDLine = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// layeredChanges is a script run as root in a layered container: it adds, changes and deletes
// files, deletes a file of a lower layer (a whiteout) and replaces a folder of the image (an
// opaque folder).
const layeredChanges = `echo new > /app/new.txt && echo changed > /etc/motd && rm /app/data.txt && ` +
	`rm -rf /app/olddir && mkdir /app/olddir && echo z > /app/olddir/z.txt && mkdir -p /srv/x`

// layeredDiff is `diff` after layeredChanges.
const layeredDiff = `C /app
D /app/data.txt
A /app/new.txt
D /app/olddir
A /app/olddir/z.txt
C /etc/motd
A /srv
A /srv/x
`

// TestContainerCommit commits a stopped container's changes with every flag, runs the new
// image, and round-trips it through save and load.
func TestContainerCommit(t *testing.T) {
	env := harness.New(t)
	layered := env.Pull("layered")
	layeredID := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.Id}}", layered))
	env.MustRun("run", "--name", "cm", "--user", "root", "--network", "none", layered, "sh", "-c", layeredChanges)
	if got := env.MustRun("diff", "cm"); got != layeredDiff {
		t.Errorf("diff:\n%s\nwant:\n%s", got, layeredDiff)
	}
	if got := env.MustRun("container", "diff", "cm"); got != layeredDiff {
		t.Errorf("container diff:\n%s", got)
	}

	out := env.MustRun("commit", "-a", "Jane <jane@example.com>", "-m", "my message",
		"-c", `CMD ["cat", "/app/new.txt"]`, "-c", "ENV ADDED=yes", "cm", "committed:v1")
	if !imageIDLine.MatchString(out) {
		t.Fatalf("commit printed %q, want an image ID", out)
	}
	id := strings.TrimSpace(out)
	// Docker's "commit" event, with the comment, the new image and its tag.
	// (--until takes whole seconds, as Docker's: the next one, to include this second's events.)
	until := strconv.FormatInt(time.Now().Unix()+1, 10)
	ev := env.MustRun("events", "--since", "1m", "--until", until, "--filter", "event=commit",
		"--format", "{{.Actor.Attributes.name}}|{{.Actor.Attributes.comment}}|{{.Actor.Attributes.imageID}}|{{.Actor.Attributes.imageRef}}")
	if ev != "cm|my message|"+id+"|committed:v1\n" {
		t.Errorf("commit event: %q", ev)
	}
	insp := env.MustRun("image", "inspect", "-f",
		"{{.Id}}|{{.Parent}}|{{.Comment}}|{{.Author}}|{{.Config.User}}|{{json .Config.Cmd}}|{{json .Config.Entrypoint}}|{{json .Config.Env}}|{{.Config.WorkingDir}}|{{len .RootFS.Layers}}", "committed:v1")
	want := fmt.Sprintf(`%s|%s|my message|Jane <jane@example.com>|root|["cat","/app/new.txt"]|["/app/entrypoint.sh"]|["%s","FIXTURE=layered","GREETING=hello world","ADDED=yes"]|/app|4`+"\n",
		id, layeredID, fixtures.DefaultPath)
	if insp != want {
		t.Errorf("inspect:\n%s\nwant:\n%s", insp, want)
	}
	hist := lines(env.MustRun("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", "committed:v1"))
	if len(hist) == 0 || hist[0] != id+"|sh -c "+layeredChanges+"|my message" {
		t.Errorf("history: %q", hist)
	}

	check := func(ref string) {
		t.Helper()
		// The entrypoint exports ENTRYPOINT_RAN and runs the committed CMD.
		if got := env.MustRun("run", "--rm", "--network", "none", ref); got != "new\n" {
			t.Errorf("run %s: %q", ref, got)
		}
		got := env.MustRun("run", "--rm", "--network", "none", ref, "sh", "-c",
			`cat /etc/motd /app/olddir/z.txt; ls /app/olddir; test -e /app/data.txt || echo data gone; cat /app/hardlink.txt; echo $ADDED; ls /srv`)
		if want := "changed\nz\nz.txt\ndata gone\n" + fixtures.LayeredData + "yes\nx\n"; got != want {
			t.Errorf("files of %s:\n%s\nwant:\n%s", ref, got, want)
		}
	}
	check("committed:v1")

	// save, rmi, load: the committed layer goes with the image.
	archive := filepath.Join(t.TempDir(), "committed.tar")
	env.MustRun("save", "-o", archive, "committed:v1")
	env.MustRun("rm", "cm")
	env.MustRun("rmi", "committed:v1")
	if res := env.Run("image", "inspect", id); res.Code == 0 {
		t.Fatalf("image still there after rmi: %s", res)
	}
	if out := env.MustRun("load", "-i", archive); !strings.Contains(out, "Loaded image: committed:v1") {
		t.Errorf("load: %s", out)
	}
	if got := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.Id}}", "committed:v1")); got != id {
		t.Errorf("loaded image ID %s, want %s", got, id)
	}
	check("committed:v1")
	assertNoTemporaries(t, env)
	env.CheckNoLeaks()
}

// TestContainerCommitRunning commits a running container (paused meanwhile, running after), a
// paused one (left paused) and a created one (no new layer).
func TestContainerCommitRunning(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	bbLayers := env.MustRun("image", "inspect", "-f", "{{len .RootFS.Layers}}", bb)
	env.MustRun("run", "-d", "--name", "live", "--network", "none", bb, "sh", "-c", "echo live > /live; exec sleep 1000")
	if !harness.Eventually(10*time.Second, func() bool { return env.MustRun("diff", "live") == "A /live\n" }) {
		t.Fatalf("diff of the running container: %q", env.MustRun("diff", "live"))
	}
	if out := env.MustRun("commit", "live", "live:v1"); !imageIDLine.MatchString(out) {
		t.Errorf("commit printed %q", out)
	}
	if st := env.MustRun("inspect", "-f", "{{.State.Status}}", "live"); st != "running\n" {
		t.Errorf("after commit -p the container is %s", st)
	}
	env.MustRun("commit", "--pause=false", "live", "live:v2")
	for _, ref := range []string{"live:v1", "live:v2"} {
		if got := env.MustRun("run", "--rm", "--network", "none", ref, "cat", "/live"); got != "live\n" {
			t.Errorf("run %s: %q", ref, got)
		}
	}
	// The committed CMD is the container's; nothing of the runtime's mounts is in the layer.
	if got := env.MustRun("image", "inspect", "-f", "{{json .Config.Cmd}}", "live:v1"); got != `["sh","-c","echo live > /live; exec sleep 1000"]`+"\n" {
		t.Errorf("committed Cmd %s", got)
	}
	env.MustRun("pause", "live")
	env.MustRun("commit", "live", "live:v3")
	if st := env.MustRun("inspect", "-f", "{{.State.Status}}", "live"); st != "paused\n" {
		t.Errorf("after commit of a paused container it is %s", st)
	}
	env.MustRun("unpause", "live")
	env.MustRun("rm", "-f", "live")

	// A container that changed nothing: no new layer, an empty_layer history entry.
	env.MustRun("create", "--name", "fresh", "--network", "none", bb, "true")
	env.MustRun("container", "commit", "fresh", "fresh:v1")
	if got := env.MustRun("image", "inspect", "-f", "{{len .RootFS.Layers}}", "fresh:v1"); got != bbLayers {
		t.Errorf("commit of an unchanged container has %s layers, want %s", got, bbLayers)
	}
	env.MustRun("start", "-a", "fresh")
	if got := env.MustRun("diff", "fresh"); got != "" {
		t.Errorf("diff of a container that changed nothing: %q", got)
	}
	env.MustRun("rm", "fresh")
	env.CheckNoLeaks()
}

// TestContainerDiffBusybox checks `diff` in Docker's form for common changes.
func TestContainerDiffBusybox(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	env.MustRun("run", "--name", "d1", "--network", "none", bb, "sh", "-c", "touch /tmp/x; rm /etc/group; mkdir /newdir")
	want := "C /etc\nD /etc/group\nA /newdir\nC /tmp\nA /tmp/x\n"
	if got := env.MustRun("diff", "d1"); got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	env.MustRun("rm", "d1")
	env.CheckNoLeaks()
}

// TestContainerCommitErrors checks the refusals: exit code 1, one line, nothing left behind.
func TestContainerCommitErrors(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	env.MustRun("create", "--name", "ce", "--network", "none", bb, "true")
	before := imageIDs(t, env)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"commit", "nosuch"}, "Error response from daemon: No such container: nosuch"},
		{[]string{"commit", "ce", "Bad:Ref"}, "invalid reference format"},
		{[]string{"commit", "ce", "x@sha256:" + strings.Repeat("a", 64)}, "refusing to create a tag with a digest reference"},
		{[]string{"commit", "-c", "FOO bar", "ce"}, "FOO is not a valid change command"},
		{[]string{"commit", "-c", "EXPOSE", "ce"}, "EXPOSE requires at least one argument"},
		{[]string{"diff", "nosuch"}, "Error response from daemon: No such container: nosuch"},
		{[]string{"export", "-o", filepath.Join(t.TempDir(), "x.tar"), "nosuch"}, "Error response from daemon: No such container: nosuch"},
		{[]string{"export", "-o", "/nonexistent/dir/x.tar", "ce"}, `invalid output path: directory "/nonexistent/dir" does not exist`},
	} {
		oneLineError(t, env.MustFail(c.args...), 1, c.want)
	}
	for _, args := range [][]string{{"commit"}, {"commit", "a", "b", "c"}, {"diff"}, {"export"}, {"container", "export", "a", "b"}} {
		if res := env.Run(args...); res.Code != 1 || !strings.Contains(res.Stderr, "requires") {
			t.Errorf("berth %v: %s", args, res)
		}
	}
	if after := imageIDs(t, env); len(after) != len(before) {
		t.Errorf("images after failed commits: %v (before %v)", after, before)
	}
	// export refuses to write a tar to a terminal.
	p := env.StartPTY("export", "ce")
	res := p.Wait(20 * time.Second)
	if res.Code != 1 || !strings.Contains(res.Stdout, "cowardly refusing to save to a terminal. Use the -o flag or redirect") {
		t.Errorf("export to a terminal: %s", res)
	}
	env.MustRun("rm", "ce")
	assertNoTemporaries(t, env)
	env.CheckNoLeaks()
}

// tarTree summarises a tar: name -> type, mode, owner, link target and content digest.
func tarTree(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the tar: %v", err)
		}
		body, _ := io.ReadAll(tr)
		out[strings.TrimSuffix(h.Name, "/")] = fmt.Sprintf("%c %o %d:%d %q %q", h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, body)
	}
}

// TestContainerExport exports stopped and running containers (stdout and -o), and imports the
// tar back to the same tree.
func TestContainerExport(t *testing.T) {
	env := harness.New(t)
	layered := env.Pull("layered")
	env.MustRun("run", "--name", "ex", "--user", "root", "--network", "none", layered, "sh", "-c", layeredChanges)
	file := filepath.Join(t.TempDir(), "ex.tar")
	if out := env.MustRun("export", "-o", file, "ex"); out != "" {
		t.Errorf("export -o printed %q", out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tree := tarTree(t, data)
	stdout := env.MustRun("container", "export", "ex")
	if stdout != string(data) {
		t.Errorf("export to stdout differs from export -o (%d vs %d bytes)", len(stdout), len(data))
	}
	for name, want := range map[string]string{
		"app/new.txt":        "new\n",
		"app/olddir/z.txt":   "z\n",
		"etc/motd":           "changed\n",
		"app/hardlink.txt":   fixtures.LayeredData,
		"app/layer3.txt":     fixtures.LayeredLayer3,
		"var/www/index.html": fixtures.IndexHTML,
	} {
		if got := tree[name]; !strings.HasSuffix(got, fmt.Sprintf(" %q", want)) || got[0] != tar.TypeReg {
			t.Errorf("export %s: %q, want a file holding %q", name, got, want)
		}
	}
	if got := tree["app/link.txt"]; !strings.HasPrefix(got, "2 ") || !strings.Contains(got, `"data.txt"`) {
		t.Errorf("export app/link.txt: %q", got)
	}
	for name := range tree {
		if strings.Contains(name, ".wh.") || name == "app/data.txt" || name == "app/remove-me.txt" ||
			name == "app/olddir/a.txt" || name == "app/olddir/c.txt" {
			t.Errorf("export holds %s", name)
		}
	}

	// import gives back the same tree.
	env.MustRun("import", file, "exported:v1")
	env.MustRun("create", "--name", "ex2", "--network", "none", "exported:v1", "true")
	again := tarTree(t, []byte(env.MustRun("export", "ex2")))
	if diffs := treeDiff(tree, again); len(diffs) > 0 {
		t.Errorf("export of the imported image differs:\n%s", strings.Join(diffs, "\n"))
	}

	// A running container exports too, and no mount is left behind.
	env.MustRun("run", "-d", "--name", "exlive", "--network", "none", layered, "sh", "-c", "echo running > /tmp/r; exec sleep 1000")
	if !harness.Eventually(10*time.Second, func() bool { return strings.Contains(env.MustRun("diff", "exlive"), "A /tmp/r") }) {
		t.Fatal("the running container did not write /tmp/r")
	}
	live := tarTree(t, []byte(env.MustRun("export", "exlive")))
	if !strings.Contains(live["tmp/r"], `"running\n"`) || live["app/data.txt"] == "" {
		t.Errorf("export of a running container: tmp/r %q, app/data.txt %q", live["tmp/r"], live["app/data.txt"])
	}
	if st := env.MustRun("inspect", "-f", "{{.State.Status}}", "exlive"); st != "running\n" {
		t.Errorf("after export the container is %s", st)
	}
	env.MustRun("rm", "-f", "exlive", "ex", "ex2")
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	env.CheckNoLeaks()
}

func treeDiff(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, fmt.Sprintf("%s: %s vs %s", k, v, b[k]))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k+": only in the second")
		}
	}
	sort.Strings(out)
	return out
}
