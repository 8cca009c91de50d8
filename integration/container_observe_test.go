package integration

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/berth-project/berth/integration/harness"
)

// obsWait bounds waits for a detached container to reach a state.
const obsWait = 20 * time.Second

// obsColumns splits a table line the way a reader of `docker ps` does: on runs of 2+ spaces.
func obsColumns(line string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
}

// obsInspect decodes `inspect NAME` into Docker's type.
func obsInspect(t *testing.T, env *harness.Env, name string) container.InspectResponse {
	t.Helper()
	var list []container.InspectResponse
	out := env.MustRun("inspect", name)
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
		t.Fatalf("inspect %s: %v\n%s", name, err, out)
	}
	return list[0]
}

func obsID(t *testing.T, env *harness.Env, name string) string {
	t.Helper()
	return strings.TrimSpace(env.MustRun("inspect", "-f", "{{.Id}}", name))
}

// obsStatus is the STATUS column of one container.
func obsStatus(env *harness.Env, name string) string {
	return strings.TrimSpace(env.MustRun("ps", "-a", "--filter", "name=^"+name+"$", "--format", "{{.Status}}"))
}

// obsWaitExited waits until name has exited.
func obsWaitExited(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	if !harness.Eventually(obsWait, func() bool {
		return strings.HasPrefix(obsStatus(env, name), "Exited")
	}) {
		t.Fatalf("%s did not exit: %q", name, obsStatus(env, name))
	}
}

// TestObservePs checks ps's columns, statuses, filters and formats on a running, a created and
// an exited container.
func TestObservePs(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "web", "-l", "app=web", "-l", "tier=front", "--network", "none", img, "sh", "-c", "sleep 300")
	env.MustRun("create", "--name", "fresh", "--network", "none", img, "true")
	if r := env.Run("run", "--name", "done", "--network", "none", img, "sh", "-c", "exit 3"); r.Code != 3 {
		t.Fatalf("run done: %s", r)
	}
	webID := obsID(t, env, "web")

	out := env.MustRun("ps")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("ps shows %d lines, want header + web:\n%s", len(lines), out)
	}
	if got := strings.Join(obsColumns(lines[0]), "|"); got != "CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|PORTS|NAMES" {
		t.Errorf("ps header %q", lines[0])
	}
	// Columns are aligned: every field of the row starts where its header does.
	for _, h := range []string{"IMAGE", "COMMAND", "CREATED", "STATUS"} {
		i := strings.Index(lines[0], h)
		if i <= 0 || lines[1][i-1] != ' ' || lines[1][i] == ' ' {
			t.Errorf("column %s not aligned:\n%s", h, out)
		}
	}
	row := obsColumns(lines[1])
	if row[0] != webID[:12] || row[1] != img || row[2] != `"sh -c 'sleep 300'"` || !strings.HasSuffix(row[3], " ago") ||
		!strings.HasPrefix(row[4], "Up ") || row[len(row)-1] != "web" {
		t.Errorf("ps row %q", row)
	}

	statuses := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(env.MustRun("ps", "-a", "--format", "{{.Names}}\t{{.Status}}\t{{.State}}")), "\n") {
		f := strings.Split(l, "\t")
		statuses[f[0]] = f[1] + "|" + f[2]
	}
	if !strings.HasPrefix(statuses["web"], "Up ") || !strings.HasSuffix(statuses["web"], "|running") ||
		statuses["fresh"] != "Created|created" || !regexp.MustCompile(`^Exited \(3\) .* ago\|exited$`).MatchString(statuses["done"]) {
		t.Errorf("ps -a statuses %v", statuses)
	}

	names := func(args ...string) string {
		t.Helper()
		out := env.MustRun(append([]string{"ps", "--format", "{{.Names}}"}, args...)...)
		return strings.Join(strings.Fields(out), ",")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-a"}, "done,fresh,web"},
		{[]string{"-l"}, "done"},
		{[]string{"-n", "2"}, "done,fresh"},
		{[]string{"--filter", "status=exited"}, "done"},
		{[]string{"--filter", "status=created", "--filter", "status=running"}, "fresh,web"},
		{[]string{"-a", "--filter", "exited=3"}, "done"},
		{[]string{"-a", "--filter", "name=fre"}, "fresh"},
		{[]string{"-a", "--filter", "label=app=web"}, "web"},
		{[]string{"-a", "--filter", "label=tier"}, "web"},
		{[]string{"-a", "--filter", "id=" + webID[:8]}, "web"},
		{[]string{"-a", "--filter", "ancestor=" + img}, "done,fresh,web"},
		{[]string{"-a", "--filter", "before=done"}, "fresh,web"},
		{[]string{"-a", "--filter", "since=fresh"}, "done"},
	} {
		if got := names(tc.args...); got != tc.want {
			t.Errorf("ps %v = %q, want %q", tc.args, got, tc.want)
		}
	}

	if got := strings.TrimSpace(env.MustRun("ps", "-q")); got != webID[:12] {
		t.Errorf("ps -q = %q", got)
	}
	if got := strings.TrimSpace(env.MustRun("ps", "-q", "--no-trunc")); got != webID {
		t.Errorf("ps -q --no-trunc = %q", got)
	}
	var js map[string]string
	if err := json.Unmarshal([]byte(env.MustRun("ps", "--format", "json")), &js); err != nil || js["Names"] != "web" ||
		js["Labels"] != "app=web,tier=front" || js["State"] != "running" || js["Command"] != `"sh -c 'sleep 300'"` {
		t.Errorf("ps --format json: %v %v", js, err)
	}
	if out := env.MustRun("ps", "--format", `table {{.Names}}\t{{.Label "app"}}`); !strings.HasPrefix(out, "NAMES") || !strings.Contains(out, "web       web") {
		t.Errorf("ps table format:\n%s", out)
	}
	out = env.MustRun("ps", "-s")
	if l := strings.Split(out, "\n"); !strings.HasSuffix(strings.TrimSpace(l[0]), "SIZE") || !regexp.MustCompile(`\d+(\.\d+)?k?B \(virtual \d+(\.\d+)?[kM]B\)$`).MatchString(strings.TrimSpace(l[1])) {
		t.Errorf("ps -s:\n%s", out)
	}

	if r := env.Run("ps", "--filter", "bogus=1"); r.Code != 1 || !strings.Contains(r.Stderr, "invalid filter 'bogus'") {
		t.Errorf("bad filter: %s", r)
	}
	if r := env.Run("ps", "--filter", "status=asleep"); r.Code != 1 || !strings.Contains(r.Stderr, "invalid filter 'status=asleep'") {
		t.Errorf("bad status: %s", r)
	}
	if r := env.Run("ps", "--filter", "novalue"); r.Code != 125 || !strings.Contains(r.Stderr, "bad format of filter (expected name=value)") {
		t.Errorf("filter without '=': %s", r)
	}
	env.MustRun("container", "ls", "-aq")
	env.MustRun("rm", "-f", "web")
	env.CheckNoLeaks()
}

// TestObserveInspect checks inspect's Docker shape, templates (the seeds' LogPath one), several
// objects at once, unknown names, --type and -s.
func TestObserveInspect(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "web", "-l", "app=web", "-e", "FOO=bar", img, "sleep", "300")
	env.MustRun("create", "--name", "fresh", "--network", "none", img, "true")

	c := obsInspect(t, env, "web")
	if len(c.ID) != 64 || c.Name != "/web" || c.Path != "sleep" || len(c.Args) != 1 || c.Args[0] != "300" ||
		c.Driver != "overlay2" || c.Platform != "linux" || !strings.HasPrefix(c.Image, "sha256:") {
		t.Errorf("inspect base %+v", c.ContainerJSONBase)
	}
	if s := c.State; s.Status != "running" || !s.Running || s.Paused || s.Pid <= 0 || s.ExitCode != 0 ||
		s.FinishedAt != "0001-01-01T00:00:00Z" || !strings.HasPrefix(s.StartedAt, time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("inspect State %+v", s)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Created); err != nil {
		t.Errorf("Created %q: %v", c.Created, err)
	}
	hc := c.HostConfig
	if hc.LogConfig.Type != "json-file" || hc.NetworkMode != "bridge" || hc.RestartPolicy.Name != "no" ||
		hc.ShmSize != 64<<20 || len(hc.MaskedPaths) == 0 || len(hc.ReadonlyPaths) == 0 {
		t.Errorf("inspect HostConfig %+v", hc)
	}
	if c.GraphDriver.Name != "overlay2" || c.GraphDriver.Data["UpperDir"] == "" || c.GraphDriver.Data["LowerDir"] == "" || c.GraphDriver.Data["MergedDir"] == "" {
		t.Errorf("GraphDriver %+v", c.GraphDriver)
	}
	if c.Config.Labels["app"] != "web" || c.Config.Image != img || !obsContains(c.Config.Env, "FOO=bar") || c.Config.Hostname != c.ID[:12] {
		t.Errorf("Config %+v", c.Config)
	}
	for _, p := range []string{c.LogPath, c.HostsPath, c.HostnamePath, c.ResolvConfPath} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("inspect path %q: %v", p, err)
		}
	}
	// The seeds' log path template.
	if out := strings.TrimSpace(env.MustRun("inspect", "--format={{.LogPath}}", "web")); out != filepath.Join(env.Root, "containers", c.ID, c.ID+"-json.log") {
		t.Errorf("LogPath template = %q", out)
	}
	// The seeds' IP template: a container on the default bridge has an address.
	ip := strings.TrimSpace(env.MustRun("inspect", "--format={{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web"))
	if net.ParseIP(ip) == nil || ip != c.NetworkSettings.IPAddress {
		t.Errorf("IP template = %q (NetworkSettings.IPAddress %q)", ip, c.NetworkSettings.IPAddress)
	}
	if out := env.MustRun("inspect", "-f", `{{.State.Status}} {{json .Config.Labels}} {{upper .Name}} {{join .Args ","}} {{index (split .Image ":") 0}}`, "web"); out != "running {\"app\":\"web\"} /WEB 300 sha256\n" {
		t.Errorf("template functions = %q", out)
	}

	// Several objects: one JSON array; a missing one is reported after the found ones.
	var two []container.InspectResponse
	if err := json.Unmarshal([]byte(env.MustRun("container", "inspect", "web", "fresh")), &two); err != nil || len(two) != 2 || two[1].State.Status != "created" || two[1].State.StartedAt != "0001-01-01T00:00:00Z" {
		t.Errorf("inspect web fresh: %v %+v", err, two)
	}
	r := env.Run("inspect", "web", "nosuch")
	var one []container.InspectResponse
	if r.Code != 1 || json.Unmarshal([]byte(r.Stdout), &one) != nil || len(one) != 1 || strings.TrimSpace(r.Stderr) != "Error: No such object: nosuch" {
		t.Errorf("inspect web nosuch: %s", r)
	}
	if r := env.Run("inspect", "nosuch"); r.Code != 1 || strings.TrimSpace(r.Stdout) != "[]" || strings.TrimSpace(r.Stderr) != "Error: No such object: nosuch" {
		t.Errorf("inspect nosuch: %s", r)
	}
	if r := env.Run("container", "inspect", "nosuch"); r.Code != 1 || strings.TrimSpace(r.Stderr) != "Error: No such container: nosuch" {
		t.Errorf("container inspect nosuch: %s", r)
	}
	if r := env.Run("inspect", "--type", "image", "web"); r.Code != 1 || !strings.Contains(r.Stderr, "No such image: web") {
		t.Errorf("inspect --type image web: %s", r)
	}
	if r := env.Run("inspect", "-f", "{{.Nope", "web"); r.Code != 64 || !strings.Contains(r.Stderr, "template parsing error") {
		t.Errorf("bad template: %s", r)
	}

	// Images are found too, after containers.
	var imgs []map[string]any
	if err := json.Unmarshal([]byte(env.MustRun("inspect", img)), &imgs); err != nil || len(imgs) != 1 || imgs[0]["Id"] != c.Image {
		t.Errorf("inspect image: %v %v", err, imgs)
	}

	// Volumes and networks are found too; --type narrows the search.
	env.MustRun("volume", "create", "obsvol")
	if out := env.MustRun("inspect", "-f", "{{.Name}} {{.Driver}}", "obsvol"); out != "obsvol local\n" {
		t.Errorf("inspect volume = %q", out)
	}
	if r := env.Run("inspect", "--type", "container", "obsvol"); r.Code != 1 || !strings.Contains(r.Stderr, "No such container: obsvol") {
		t.Errorf("inspect --type container obsvol: %s", r)
	}
	if r := env.Run("inspect", "--type", "bogus", "web"); r.Code == 0 {
		t.Errorf("inspect --type bogus: %s", r)
	}

	// -s: the writable layer's size, and the image's on top.
	env.MustRun("exec", "web", "sh", "-c", "head -c 5000 /dev/zero > /big")
	var sized []container.InspectResponse
	if err := json.Unmarshal([]byte(env.MustRun("inspect", "-s", "web")), &sized); err != nil || sized[0].SizeRw == nil ||
		*sized[0].SizeRw < 5000 || *sized[0].SizeRootFs <= *sized[0].SizeRw {
		t.Errorf("inspect -s: %v %+v", err, sized)
	}
	env.MustRun("rm", "-f", "web")
	env.CheckNoLeaks()
}

// TestObserveTopAndStats checks top's ps emulation and stats --no-stream.
func TestObserveTopAndStats(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "web", "--network", "none", "-m", "64m", img, "sh", "-c", "sleep 300; true")
	env.MustRun("create", "--name", "fresh", "--network", "none", img, "true")
	if !harness.Eventually(obsWait, func() bool { return strings.Contains(env.MustRun("top", "web"), "sleep 300\n") }) {
		t.Fatal("sleep never started")
	}

	out := env.MustRun("top", "web")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "UID PID PPID C STIME TTY TIME CMD" {
		t.Errorf("top header %q", lines[0])
	}
	pid := strings.TrimSpace(env.MustRun("inspect", "-f", "{{.State.Pid}}", "web"))
	if len(lines) != 3 || !strings.HasSuffix(lines[1], "sh -c sleep 300; true") || !strings.HasPrefix(lines[1], "root ") ||
		!strings.HasSuffix(lines[2], " sleep 300") {
		t.Errorf("top:\n%s", out)
	} else if f, g := strings.Fields(lines[1]), strings.Fields(lines[2]); f[1] != pid || g[2] != pid {
		t.Errorf("top PID/PPID columns:\n%s\ninit is %s", out, pid)
	}
	out = env.MustRun("top", "web", "aux")
	if got := strings.Join(strings.Fields(strings.SplitN(out, "\n", 2)[0]), " "); got != "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND" {
		t.Errorf("top aux header %q", out)
	}
	if out := env.MustRun("top", "web", "-o", "pid,comm"); !regexp.MustCompile(`^PID\s+COMMAND\n\d+\s+sh\n\d+\s+sleep\n$`).MatchString(out) {
		t.Errorf("top -o pid,comm:\n%s", out)
	}
	if r := env.Run("top", "fresh"); r.Code != 1 || !strings.Contains(r.Stderr, "is not running") {
		t.Errorf("top of a created container: %s", r)
	}
	if r := env.Run("top", "web", "-o", "comm"); r.Code != 1 || !strings.Contains(r.Stderr, "Couldn't find PID field in ps output") {
		t.Errorf("top without PID: %s", r)
	}

	out = env.MustRun("stats", "--no-stream")
	lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
	if got := strings.Join(obsColumns(lines[0]), "|"); got != "CONTAINER ID|NAME|CPU %|MEM USAGE / LIMIT|MEM %|NET I/O|BLOCK I/O|PIDS" {
		t.Errorf("stats header %q", lines[0])
	}
	if len(lines) != 2 || !regexp.MustCompile(`^[0-9a-f]{12}\s+web\s+\d+\.\d\d%\s+[\d.]+[KMG]?i?B / 64MiB\s+\d+\.\d\d%\s+\S+ / \S+\s+\S+ / \S+\s+2$`).MatchString(lines[1]) {
		t.Errorf("stats --no-stream:\n%s", out)
	}
	out = env.MustRun("stats", "--no-stream", "-a", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}")
	if !strings.Contains(out, "web 2 ") || !strings.Contains(out, "fresh 0 0B / 0B") {
		t.Errorf("stats -a:\n%s", out)
	}
	var js map[string]string
	if err := json.Unmarshal([]byte(env.MustRun("stats", "--no-stream", "--format", "json", "web")), &js); err != nil || js["Name"] != "web" || js["Container"] != "web" || js["PIDs"] != "2" {
		t.Errorf("stats json: %v %v", js, err)
	}
	if r := env.Run("stats", "--no-stream", "nosuch"); r.Code != 1 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Errorf("stats nosuch: %s", r)
	}
	// The live view redraws in place.
	p := env.Start("stats", "web")
	time.Sleep(2500 * time.Millisecond)
	p.Signal(2)
	res := p.Wait(10 * time.Second)
	if !strings.HasPrefix(res.Stdout, "\033[2J\033[H") || strings.Count(res.Stdout, "\033[H") < 2 || !strings.Contains(res.Stdout, "web") {
		t.Errorf("live stats: %q", res.Stdout)
	}
	env.MustRun("rm", "-f", "web")
	env.CheckNoLeaks()
}

// TestObservePauseUnpause freezes and thaws a container.
func TestObservePauseUnpause(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "web", "--network", "none", img, "sleep", "300")
	env.MustRun("create", "--name", "fresh", "--network", "none", img, "true")
	id := obsID(t, env, "web")

	if out := env.MustRun("pause", "web"); out != "web\n" {
		t.Errorf("pause printed %q", out)
	}
	c := obsInspect(t, env, "web")
	if c.State.Status != "paused" || !c.State.Paused || !c.State.Running {
		t.Errorf("paused state %+v", c.State)
	}
	if st := obsStatus(env, "web"); !regexp.MustCompile(`^Up .* \(Paused\)$`).MatchString(st) {
		t.Errorf("ps status %q", st)
	}
	for _, f := range []string{"/sys/fs/cgroup/freezer/berth/" + id + "/freezer.state", "/sys/fs/cgroup/berth/" + id + "/cgroup.freeze"} {
		if b, err := os.ReadFile(f); err == nil {
			if s := strings.TrimSpace(string(b)); s != "FROZEN" && s != "1" {
				t.Errorf("%s = %q", f, s)
			}
		}
	}
	if r := env.Run("exec", "web", "true"); r.Code == 0 || !strings.Contains(r.Stderr, "paused") {
		t.Errorf("exec into a paused container: %s", r)
	}
	if r := env.Run("pause", "web"); r.Code != 1 || !strings.Contains(r.Stderr, "Error response from daemon: Container "+id+" is already paused") {
		t.Errorf("pause twice: %s", r)
	}
	if out := env.MustRun("unpause", "web"); out != "web\n" {
		t.Errorf("unpause printed %q", out)
	}
	if c := obsInspect(t, env, "web"); c.State.Status != "running" || c.State.Paused {
		t.Errorf("unpaused state %+v", c.State)
	}
	env.MustRun("exec", "web", "true")
	if r := env.Run("unpause", "web"); r.Code != 1 || !strings.Contains(r.Stderr, "Container "+id+" is not paused") {
		t.Errorf("unpause twice: %s", r)
	}
	freshID := obsID(t, env, "fresh")
	if r := env.Run("pause", "fresh", "nosuch"); r.Code != 1 || !strings.Contains(r.Stderr, "container "+freshID+" is not running") ||
		!strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Errorf("pause fresh nosuch: %s", r)
	}
	// A paused container can still be removed by force.
	env.MustRun("pause", "web")
	env.MustRun("rm", "-f", "web")
	env.CheckNoLeaks()
}

// TestObserveRename renames under the index lock with Docker's conflict error.
func TestObserveRename(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "web", "--network", "none", img, "sleep", "300")
	env.MustRun("create", "--name", "other", "--network", "none", img, "true")
	id := obsID(t, env, "web")

	env.MustRun("rename", "web", "web2")
	if got := strings.TrimSpace(env.MustRun("ps", "--format", "{{.Names}}")); got != "web2" {
		t.Errorf("ps after rename: %q", got)
	}
	if got := obsInspect(t, env, id).Name; got != "/web2" {
		t.Errorf("inspect Name %q", got)
	}
	if r := env.Run("inspect", "web"); r.Code != 1 {
		t.Errorf("old name still resolves: %s", r)
	}
	otherID := obsID(t, env, "other")
	if r := env.Run("rename", "web2", "other"); r.Code != 1 || !strings.Contains(r.Stderr, `Conflict. The container name "/other" is already in use by container "`+otherID+`"`) {
		t.Errorf("rename onto a used name: %s", r)
	}
	if r := env.Run("rename", "nosuch", "x1"); r.Code != 1 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Errorf("rename nosuch: %s", r)
	}
	if r := env.Run("rename", "web2", "bad/name"); r.Code != 1 || !strings.Contains(r.Stderr, "Invalid container name") {
		t.Errorf("rename to an invalid name: %s", r)
	}
	// The old name is free again.
	env.MustRun("create", "--name", "web", "--network", "none", img, "true")
	env.MustRun("rm", "-f", "web2")
	env.CheckNoLeaks()
}

// TestObserveUpdate changes limits of a running container (visible in its cgroup) and of a
// stopped one (saved for its next start).
func TestObserveUpdate(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "lim", "--network", "none", img, "sleep", "300")
	id := obsID(t, env, "lim")

	if out := env.MustRun("update", "--memory", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "50", "lim"); out != "lim\n" {
		t.Errorf("update printed %q", out)
	}
	readCg := func(v1, v2 string) string {
		for _, p := range []string{v1, v2} {
			if b, err := os.ReadFile(p); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
		return ""
	}
	cg1, cg2 := "/sys/fs/cgroup/", "/sys/fs/cgroup/berth/"+id+"/"
	if got := readCg(cg1+"memory/berth/"+id+"/memory.limit_in_bytes", cg2+"memory.max"); got != "67108864" {
		t.Errorf("memory limit %q", got)
	}
	if got := readCg(cg1+"pids/berth/"+id+"/pids.max", cg2+"pids.max"); got != "50" {
		t.Errorf("pids.max %q", got)
	}
	if got := readCg(cg1+"cpu/berth/"+id+"/cpu.cfs_quota_us", cg2+"cpu.max"); got != "50000" && got != "50000 100000" {
		t.Errorf("cpu quota %q", got)
	}
	if got := readCg(cg1+"cpu/berth/"+id+"/cpu.shares", cg2+"cpu.weight"); got != "512" && got != "20" {
		t.Errorf("cpu shares %q", got)
	}
	hc := obsInspect(t, env, "lim").HostConfig
	if hc.Memory != 64<<20 || hc.MemorySwap != 128<<20 || hc.NanoCPUs != 5e8 || hc.CPUShares != 512 || hc.PidsLimit == nil || *hc.PidsLimit != 50 {
		t.Errorf("inspect after update: %+v", hc.Resources)
	}
	// The pids limit is enforced.
	if r := env.Run("exec", "lim", "sh", "-c", "for i in $(seq 60); do sleep 30 & done; wait"); r.Code == 0 {
		t.Errorf("60 processes under pids-limit 50: %s", r)
	}

	env.MustRun("update", "--restart", "on-failure:3", "lim")
	if p := obsInspect(t, env, "lim").HostConfig.RestartPolicy; p.Name != "on-failure" || p.MaximumRetryCount != 3 {
		t.Errorf("restart policy %+v", p)
	}
	if r := env.Run("update", "--memory", "256m", "lim"); r.Code != 1 || !strings.Contains(r.Stderr, "Memory limit should be smaller than already set memoryswap limit") {
		t.Errorf("memory above swap: %s", r)
	}
	if r := env.Run("update", "lim"); r.Code == 0 || !strings.Contains(r.Stderr, "you must provide one or more flags") {
		t.Errorf("update without flags: %s", r)
	}
	if r := env.Run("update", "--memory", "lots", "lim"); r.Code != 125 {
		t.Errorf("bad size: %s", r)
	}
	if r := env.Run("update", "--cpus", "1", "nosuch"); r.Code != 1 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Errorf("update nosuch: %s", r)
	}

	// A restart policy given to a running container applies when it exits.
	env.MustRun("run", "-d", "--name", "flaky", "--network", "none", img, "sh", "-c", "sleep 2; exit 1")
	env.MustRun("update", "--restart", "on-failure:2", "flaky")
	if !harness.Eventually(30*time.Second, func() bool {
		c := obsInspect(t, env, "flaky")
		return c.RestartCount == 2 && c.State.Status == "exited"
	}) {
		c := obsInspect(t, env, "flaky")
		t.Errorf("flaky after update --restart on-failure:2: restarts %d, %+v", c.RestartCount, c.State)
	}

	// A stopped container keeps the new limits for its next start.
	env.MustRun("create", "--name", "later", "--network", "none", img, "sleep", "300")
	env.MustRun("update", "--memory", "32m", "later")
	env.MustRun("start", "later")
	lid := obsID(t, env, "later")
	if got := readCg(cg1+"memory/berth/"+lid+"/memory.limit_in_bytes", "/sys/fs/cgroup/berth/"+lid+"/memory.max"); got != "33554432" {
		t.Errorf("limit after start %q", got)
	}
	env.MustRun("rm", "-f", "lim", "later", "flaky")
	env.CheckNoLeaks()
}

// TestObserveContainerPrune removes stopped containers only, with filters.
func TestObserveContainerPrune(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "up", "--network", "none", img, "sleep", "300")
	env.MustRun("create", "--name", "fresh", "--network", "none", "-l", "keep=yes", img, "true")
	env.MustRun("run", "--name", "done", "--network", "none", img, "sh", "-c", "echo data > /file")
	doneID, freshID := obsID(t, env, "done"), obsID(t, env, "fresh")

	// Answering no removes nothing.
	r := env.RunWithStdin(strings.NewReader("n\n"), "container", "prune")
	if r.Code == 0 || !strings.Contains(r.Stdout, "WARNING! This will remove all stopped containers.") {
		t.Errorf("prune answered no: %s", r)
	}
	out := env.MustRun("container", "prune", "-f", "--filter", "label!=keep=yes")
	if !strings.HasPrefix(out, "Deleted Containers:\n"+doneID+"\n\nTotal reclaimed space: ") {
		t.Errorf("prune:\n%s", out)
	}
	out = env.MustRun("container", "prune", "-f", "--filter", "until=1h")
	if out != "Total reclaimed space: 0B\n" {
		t.Errorf("prune until=1h:\n%s", out)
	}
	out = string(env.RunWithStdin(strings.NewReader("y\n"), "container", "prune").Stdout)
	if !strings.Contains(out, "Deleted Containers:\n"+freshID+"\n") {
		t.Errorf("prune answered yes:\n%s", out)
	}
	if got := strings.TrimSpace(env.MustRun("ps", "-a", "--format", "{{.Names}}")); got != "up" {
		t.Errorf("left after prune: %q", got)
	}
	if r := env.Run("container", "prune", "-f", "--filter", "bogus=1"); r.Code != 1 || !strings.Contains(r.Stderr, "invalid filter 'bogus'") {
		t.Errorf("bad prune filter: %s", r)
	}
	env.MustRun("rm", "-f", "up")
	env.CheckNoLeaks()
}

func obsContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
