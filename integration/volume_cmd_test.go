package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// TestVolumeCommands drives create, ls, inspect, rm and prune as a user would, with no container.
func TestVolumeCommands(t *testing.T) {
	env := harness.New(t)

	if out := env.MustRun("volume", "create", "--label", "app=db", "--label", "tier", "dbdata"); out != "dbdata\n" {
		t.Fatalf("volume create printed %q", out)
	}
	anon := strings.TrimSpace(env.MustRun("volume", "create"))
	if len(anon) != 64 {
		t.Fatalf("anonymous volume name %q", anon)
	}
	// Creating an existing volume again is no error and changes nothing.
	env.MustRun("volume", "create", "dbdata")

	ls := env.MustRun("volume", "ls")
	lines := strings.Split(strings.TrimSpace(ls), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "DRIVER") || !strings.Contains(lines[0], "VOLUME NAME") {
		t.Fatalf("volume ls:\n%s", ls)
	}
	if !strings.Contains(ls, "local     dbdata") {
		t.Errorf("volume ls lacks the dbdata row:\n%s", ls)
	}
	if out := env.MustRun("volume", "ls", "-q", "--filter", "label=app=db"); out != "dbdata\n" {
		t.Errorf("ls -q --filter label=app=db = %q", out)
	}
	if out := env.MustRun("volume", "ls", "-q", "--filter", "name=dbd"); out != "dbdata\n" {
		t.Errorf("ls --filter name=dbd = %q", out)
	}
	if out := env.MustRun("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Label \"app\"}}", "-f", "label=tier"); out != "dbdata local db\n" {
		t.Errorf("ls --format = %q", out)
	}
	if out := env.MustRun("volume", "ls", "-q", "--filter", "dangling=true"); !strings.Contains(out, "dbdata") || !strings.Contains(out, anon) {
		t.Errorf("ls --filter dangling=true = %q, want both unused volumes", out)
	}
	if r := env.Run("volume", "ls", "--filter", "colour=red"); r.Code == 0 || !strings.Contains(r.Stderr, "invalid filter 'colour'") {
		t.Errorf("ls with a bad filter: %s", r)
	}

	var vols []map[string]any
	if err := json.Unmarshal([]byte(env.MustRun("volume", "inspect", "dbdata")), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("inspect JSON: %v", err)
	}
	v := vols[0]
	wantMount := filepath.Join(env.Root, "volumes", "dbdata", "_data")
	if v["Name"] != "dbdata" || v["Driver"] != "local" || v["Scope"] != "local" || v["Mountpoint"] != wantMount {
		t.Errorf("inspect = %v", v)
	}
	if labels, _ := v["Labels"].(map[string]any); labels["app"] != "db" {
		t.Errorf("inspect labels = %v", v["Labels"])
	}
	if _, ok := v["CreatedAt"].(string); !ok {
		t.Errorf("inspect lacks CreatedAt: %v", v)
	}
	if out := env.MustRun("volume", "inspect", "-f", "{{.Mountpoint}}", "dbdata"); out != wantMount+"\n" {
		t.Errorf("inspect -f = %q", out)
	}
	r := env.Run("volume", "inspect", "nosuch")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Error response from daemon: get nosuch: no such volume") {
		t.Errorf("inspect of a missing volume: %s", r)
	}

	// Data written into the mountpoint is the volume's.
	if err := os.WriteFile(filepath.Join(wantMount, "f"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Prune without -a only removes anonymous volumes.
	out := env.MustRun("volume", "prune", "-f")
	if !strings.Contains(out, "Deleted Volumes:\n"+anon+"\n") || !strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("prune output:\n%s", out)
	}
	if out := env.MustRun("volume", "ls", "-q"); out != "dbdata\n" {
		t.Errorf("after prune: %q", out)
	}
	// The prompt is honoured: "n" keeps everything.
	r = env.RunWithStdin(strings.NewReader("n\n"), "volume", "prune", "-a")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Are you sure you want to continue? [y/N]") {
		t.Errorf("prune prompt: %s", r)
	}
	if out := env.MustRun("volume", "ls", "-q"); out != "dbdata\n" {
		t.Errorf("answering n removed volumes: %q", out)
	}
	out = env.MustRun("volume", "prune", "-a", "-f", "--filter", "label=app=other")
	if strings.Contains(out, "dbdata") {
		t.Errorf("prune --filter label=app=other removed dbdata:\n%s", out)
	}

	if out := env.MustRun("volume", "rm", "dbdata"); out != "dbdata\n" {
		t.Errorf("volume rm printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(env.Root, "volumes", "dbdata")); !os.IsNotExist(err) {
		t.Errorf("volume folder left after rm: %v", err)
	}
	r = env.Run("volume", "rm", "dbdata")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Error response from daemon: get dbdata: no such volume") {
		t.Errorf("rm of a missing volume: %s", r)
	}
	env.MustRun("volume", "rm", "-f", "dbdata")
}

// TestVolumeCreateRefusals checks bad names and local-driver options fail without leaving state.
func TestVolumeCreateRefusals(t *testing.T) {
	env := harness.New(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"../escape"}, `"../escape" includes invalid characters for a local volume name`},
		{[]string{"a"}, "volume name is too short"},
		{[]string{"-d", "nfs", "v1"}, `plugin "nfs" not found`},
		{[]string{"-o", "colour=red", "v1"}, `invalid option: "colour"`},
		{[]string{"-o", "type=tmpfs", "v1"}, `missing required option: "device"`},
		{[]string{"-o", "type=none", "-o", "o=bind", "-o", "device=/", "v1"}, `"/" is not allowed`},
		{[]string{"-o", "type=none", "-o", "o=bind", "-o", "device=" + env.Root, "v1"}, "inside the berth store"},
	} {
		r := env.Run(append([]string{"volume", "create"}, tc.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "Error response from daemon: create ") || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("volume create %v: %s\nwant %q", tc.args, r, tc.want)
		}
	}
	if out := env.MustRun("volume", "ls", "-q"); out != "" {
		t.Errorf("refused creates left volumes: %q", out)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(env.Root), "escape")); !os.IsNotExist(err) {
		t.Errorf("a volume name escaped volumes/: %v", err)
	}
}
