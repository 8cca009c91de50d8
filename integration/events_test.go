package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// eventLine is docker's default event line: time, type, action, actor ID and attributes.
var eventLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(?:Z|[+-]\d\d:\d\d)) (\S+) (.+) (\S+)( \(.*\))?$`)

// eventsOf returns the lines of `berth events` output without their timestamps ("container
// start ID (image=..., name=...)"), failing on a line not in docker's format.
func eventsOf(t *testing.T, out string) []string {
	t.Helper()
	var evs []string
	for _, l := range lines(out) {
		m := eventLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not an event line: %q", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
			t.Fatalf("event time %q: %v", m[1], err)
		}
		evs = append(evs, strings.TrimPrefix(l, m[1]+" "))
	}
	return evs
}

// expectSequence checks that want appear in evs in this order (other events may come between).
func expectSequence(t *testing.T, evs, want []string) {
	t.Helper()
	i := 0
	for _, e := range evs {
		if i < len(want) && e == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("missing event %q (after %q) in:\n%s", want[i], want[max(i-1, 0)], strings.Join(evs, "\n"))
	}
}

// stopEvents interrupts a following `berth events` and returns its output: docker's client ends
// with status 0 on SIGINT.
func stopEvents(t *testing.T, p *harness.Proc) string {
	t.Helper()
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res := p.Wait(10 * time.Second)
	if res.Code != 0 || res.Stderr != "" {
		t.Fatalf("events after SIGINT: %s", res)
	}
	return res.Stdout
}

// `berth events` follows what the CLI commands and the containers' monitors record, in order
// and in Docker's words, until interrupted.
func TestEventsFollowLifecycle(t *testing.T) {
	env := harness.New(t)
	p := env.Start("events")
	time.Sleep(200 * time.Millisecond) // following (nothing before it is shown)
	img := env.Pull("busybox")
	repo := strings.TrimSuffix(img, ":latest")
	env.MustRun("tag", img, "evtest:v1")
	imgID := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.Id}}", img))
	netID := strings.TrimSpace(env.MustRun("network", "create", "evnet"))
	env.MustRun("volume", "create", "evvol")
	id := strings.TrimSpace(env.MustRun("create", "--name", "ev1", "-l", "app=shop", "--network", "evnet", img,
		"sh", "-c", `trap "exit 0" TERM; while true; do sleep 0.1; done`))
	env.MustRun("start", "ev1")
	env.Run("exec", "ev1", "sh", "-c", "exit 3")
	env.MustRun("pause", "ev1")
	env.MustRun("unpause", "ev1")
	env.MustRun("rename", "ev1", "ev2")
	env.MustRun("stop", "ev2")
	env.MustRun("rm", "ev2")
	env.MustRun("network", "rm", "evnet")
	env.MustRun("volume", "rm", "evvol")
	env.MustRun("rmi", "evtest:v1")
	evs := eventsOf(t, stopEvents(t, p))

	attrs := func(name string, extra ...string) string {
		a := append([]string{"app=shop", "image=" + img, "name=" + name}, extra...)
		sort.Strings(a)
		return " (" + strings.Join(a, ", ") + ")"
	}
	// The exec's ID is random: take it from its first event.
	execID := ""
	for _, e := range evs {
		if m := regexp.MustCompile(`^container exec_create: sh -c exit 3 \S+ \(.*execID=([0-9a-f]{64})`).FindStringSubmatch(e); m != nil {
			execID = m[1]
		}
	}
	if execID == "" {
		t.Fatalf("no exec_create event in:\n%s", strings.Join(evs, "\n"))
	}
	expectSequence(t, evs, []string{
		"image pull " + img + " (name=" + repo + ")",
		"image tag " + imgID + " (name=evtest:v1)",
		"network create " + netID + " (name=evnet, type=bridge)",
		"volume create evvol (driver=local)",
		"container create " + id + attrs("ev1"),
		"network connect " + netID + " (container=" + id + ", name=evnet, type=bridge)",
		"container start " + id + attrs("ev1"),
		"container exec_create: sh -c exit 3 " + id + attrs("ev1", "execID="+execID),
		"container exec_start: sh -c exit 3 " + id + attrs("ev1", "execID="+execID),
		"container exec_die " + id + attrs("ev1", "execID="+execID, "exitCode=3"),
		"container pause " + id + attrs("ev1"),
		"container unpause " + id + attrs("ev1"),
		"container rename " + id + attrs("ev2", "oldName=/ev1"),
		"container kill " + id + attrs("ev2", "signal=15"),
		"network disconnect " + netID + " (container=" + id + ", name=evnet, type=bridge)",
		"container stop " + id + attrs("ev2"),
		"container destroy " + id + attrs("ev2"),
		"network destroy " + netID + " (name=evnet, type=bridge)",
		"volume destroy evvol (driver=local)",
		"image untag " + imgID + " (name=" + imgID + ")",
	})
	// die carries the exit code and how long the process ran (whole seconds).
	dieRe := regexp.MustCompile(`^container die ` + id + ` \(app=shop, execDuration=\d+, exitCode=0, image=` + regexp.QuoteMeta(img) + `, name=ev2\)$`)
	found := false
	for _, e := range evs {
		found = found || dieRe.MatchString(e)
	}
	if !found {
		t.Errorf("no die event with exitCode=0 in:\n%s", strings.Join(evs, "\n"))
	}
	env.CheckNoLeaks()
}

// A foreground run is create, attach, start, die, destroy (with --rm); kill and restart are
// recorded too; `system events` is the same command.
func TestEventsRunKillRestart(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	since := time.Now().Format(time.RFC3339Nano)
	env.Run("run", "--rm", "--name", "fg", "--network", "none", img, "sh", "-c", "exit 5")
	id := strings.TrimSpace(env.MustRun("run", "-d", "--name", "bg", "--network", "none", img, "sleep", "100"))
	env.MustRun("restart", "-t", "0", "bg")
	env.MustRun("kill", "-s", "USR1", "bg")
	env.MustRun("update", "--pids-limit", "50", "bg")
	env.MustRun("rm", "-f", "bg")
	until := time.Now().Format(time.RFC3339Nano)
	out := env.MustRun("system", "events", "--since", since, "--until", until, "--format", `{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "exitCode"}}{{index .Actor.Attributes "signal"}}`)
	want := []string{
		"container create fg ", "container attach fg ", "container start fg ", "container die fg 5", "container destroy fg ",
		"container create bg ", "container start bg ",
		"container kill bg 15", "container kill bg 9", "container die bg 137", "container stop bg ", "container start bg ", "container restart bg ",
		"container kill bg 10", "container update bg ",
		"container kill bg 9", "container die bg 137", "container destroy bg ",
	}
	if got := lines(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The actor of every one of bg's events is its ID.
	if n := len(lines(env.MustRun("events", "--since", since, "--until", until, "-f", "container="+id))); n != 13 {
		t.Errorf("%d events of container %s, want 13", n, id)
	}
}

// A memory-limit kill gives oom, then die with 137.
func TestEventsOOM(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	since := time.Now().Format(time.RFC3339Nano)
	res := env.Run("run", "--rm", "--name", "hog", "-m", "16m", "--network", "none", img, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
	if res.Code != 137 {
		t.Fatalf("memory hog: %s", res)
	}
	out := env.MustRun("events", "--since", since, "--until", time.Now().Format(time.RFC3339Nano), "--format", `{{.Action}} {{index .Actor.Attributes "exitCode"}}`, "-f", "event=oom", "-f", "event=die")
	if out != "oom \ndie 137\n" {
		t.Errorf("oom events: %q", out)
	}
}

// A container whose process exits on its own gives die with its exit code, also when the exit
// is seen by the idle loop (a detached container that ran for a while) and handed back.
func TestEventsDieFromIdleMonitor(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	since := strconv.FormatFloat(float64(time.Now().UnixNano())/1e9, 'f', 6, 64) // a Unix time with a fraction
	id := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sh", "-c", "sleep 1; exit 7"))
	waitIdle(t, env, id)
	if code := strings.TrimSpace(env.MustRun("wait", id)); code != "7" {
		t.Fatalf("wait: %q", code)
	}
	out := env.MustRun("events", "--since", since, "--until", time.Now().Format(time.RFC3339Nano), "--filter", "container="+id)
	evs := eventsOf(t, out)
	if len(evs) != 3 || !strings.HasPrefix(evs[0], "container create "+id) || !strings.HasPrefix(evs[1], "container start "+id) ||
		!regexp.MustCompile(`^container die `+id+` \(execDuration=\d, exitCode=7, image=\S+, name=\S+\)$`).MatchString(evs[2]) {
		t.Fatalf("events of the container:\n%s", strings.Join(evs, "\n"))
	}
	env.MustRun("rm", id)
}

// --since and --until replay what was recorded between them (RFC 3339 times, Unix times,
// durations) and end by themselves; an --until in the future follows until then.
func TestEventsSinceUntil(t *testing.T) {
	env := harness.New(t)
	t0 := time.Now()
	env.MustRun("volume", "create", "one")
	time.Sleep(20 * time.Millisecond)
	t1 := time.Now()
	env.MustRun("volume", "create", "two")
	time.Sleep(20 * time.Millisecond)
	t2 := time.Now()
	env.MustRun("volume", "create", "three")

	names := func(out string) string {
		var n []string
		for _, e := range eventsOf(t, out) {
			n = append(n, strings.Fields(e)[2])
		}
		return strings.Join(n, ",")
	}
	unix := func(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", t1.Format(time.RFC3339Nano), "--until", t2.Format(time.RFC3339Nano)}, "two"},
		{[]string{"--since", unix(t1), "--until", unix(t2)}, "two"},
		{[]string{"--since", t0.UTC().Format(time.RFC3339Nano), "--until", t2.In(time.FixedZone("x", 3600)).Format(time.RFC3339Nano)}, "one,two"},
		{[]string{"--until", t1.Format(time.RFC3339Nano)}, "one"},
		{[]string{"--since", "1h", "--until", time.Now().Format(time.RFC3339Nano)}, "one,two,three"},
		{[]string{"--since", t2.Format(time.RFC3339Nano), "--until", time.Now().Format(time.RFC3339Nano), "--since", t1.Format(time.RFC3339Nano)}, "two,three"}, // the last --since counts
	} {
		start := time.Now()
		res := env.Run(append([]string{"events"}, c.args...)...)
		if res.Code != 0 || res.Stderr != "" {
			t.Errorf("events %v: %s", c.args, res)
			continue
		}
		if got := names(res.Stdout); got != c.want {
			t.Errorf("events %v: %q, want %q", c.args, got, c.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("events %v took %v", c.args, d)
		}
	}

	// An --until a moment ahead: replay, then what happens until then, then the end.
	start := time.Now()
	p := env.Start("events", "--since", unix(t2), "--until", start.Add(2*time.Second).Format(time.RFC3339Nano))
	time.Sleep(300 * time.Millisecond)
	env.MustRun("volume", "create", "four")
	res := p.Wait(10 * time.Second)
	if res.Code != 0 || names(res.Stdout) != "three,four" {
		t.Fatalf("events until a moment ahead: %s", res)
	}
	if d := time.Since(start); d < 1900*time.Millisecond || d > 6*time.Second {
		t.Errorf("events --until +2s ended after %v", d)
	}
}

// Filters as Docker's: type, event, container (name or ID prefix), image, label, network,
// volume; values of one key are alternatives, keys combine.
func TestEventsFilters(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	since := time.Now().Format(time.RFC3339Nano)
	idA := strings.TrimSpace(env.MustRun("create", "--name", "fa", "-l", "tier=web", "--network", "none", img, "true"))
	idB := strings.TrimSpace(env.MustRun("create", "--name", "fb", "-l", "tier=db", "--network", "none", img, "true"))
	env.MustRun("tag", img, "filtered:v2")
	netID := strings.TrimSpace(env.MustRun("network", "create", "fnet"))
	env.MustRun("volume", "create", "fvol")
	env.MustRun("rm", "fa", "fb")
	env.MustRun("network", "rm", "fnet")
	env.MustRun("volume", "rm", "fvol")
	until := time.Now().Format(time.RFC3339Nano)

	short := "{{.Type}} {{.Action}} {{.Actor.ID}}"
	for _, c := range []struct {
		filters []string
		want    []string
	}{
		{[]string{"type=network"}, []string{"network create " + netID, "network destroy " + netID}},
		{[]string{"type=volume", "event=destroy"}, []string{"volume destroy fvol"}},
		{[]string{"event=create", "event=destroy", "type=container"}, []string{"container create " + idA, "container create " + idB, "container destroy " + idA, "container destroy " + idB}},
		{[]string{"container=fb"}, []string{"container create " + idB, "container destroy " + idB}},
		{[]string{"container=" + idA[:10]}, []string{"container create " + idA, "container destroy " + idA}},
		{[]string{"label=tier=web"}, []string{"container create " + idA, "container destroy " + idA}},
		{[]string{"label=tier", "event=create"}, []string{"container create " + idA, "container create " + idB}},
		{[]string{"image=filtered:v2"}, []string{"image tag " + strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.Id}}", img))}},
		{[]string{"image=" + strings.TrimSuffix(img, ":latest"), "event=destroy"}, []string{"container destroy " + idA, "container destroy " + idB}},
		{[]string{"network=fnet"}, []string{"network create " + netID, "network destroy " + netID}},
		{[]string{"volume=fvol", "event=create"}, []string{"volume create fvol"}},
		{[]string{"container=nothing"}, nil},
	} {
		args := []string{"events", "--since", since, "--until", until, "--format", short}
		for _, f := range c.filters {
			args = append(args, "--filter", f)
		}
		got := lines(env.MustRun(args...))
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("filters %v:\n%s\nwant:\n%s", c.filters, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

// --format '{{json .}}' (and json) prints Docker's JSON message.
func TestEventsFormatJSON(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	since := time.Now().Format(time.RFC3339Nano)
	id := strings.TrimSpace(env.MustRun("create", "--name", "js", "-l", "k=v", "--network", "none", img, "true"))
	until := time.Now().Format(time.RFC3339Nano)
	for _, f := range []string{"{{json .}}", "json"} {
		out := env.MustRun("events", "--since", since, "--until", until, "--format", f, "--filter", "type=container")
		ls := lines(out)
		if len(ls) != 1 {
			t.Fatalf("--format %s: %q", f, out)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(ls[0]), &m); err != nil {
			t.Fatalf("--format %s: %v: %s", f, err, ls[0])
		}
		actor, _ := m["Actor"].(map[string]any)
		attrs, _ := actor["Attributes"].(map[string]any)
		tn, _ := m["timeNano"].(float64)
		if m["Type"] != "container" || m["Action"] != "create" || m["status"] != "create" || m["id"] != id ||
			m["from"] != img || m["scope"] != "local" || actor["ID"] != id || m["time"] == nil || tn == 0 ||
			attrs["name"] != "js" || attrs["image"] != img || attrs["k"] != "v" {
			t.Errorf("--format %s: %s", f, ls[0])
		}
		if !strings.HasPrefix(ls[0], `{"status":"create","id":"`+id+`","from":"`+img+`","Type":"container","Action":"create","Actor":{"ID":"`) {
			t.Errorf("--format %s: field order differs from Docker's: %s", f, ls[0])
		}
	}
	env.MustRun("rm", id)
}

// Bad input fails with one line in docker's words and docker's status.
func TestEventsBadFlags(t *testing.T) {
	env := harness.New(t)
	oneLineError(t, env.Run("events", "--since", "garbage"), 1, `failed to parse value as time or duration: "garbage"`)
	oneLineError(t, env.Run("events", "--until", "2026-13-45"), 1, `parsing time "2026-13-45": month out of range`)
	oneLineError(t, env.Run("events", "--filter", "nonsense=1"), 1, "Error response from daemon: invalid filter 'nonsense'")
	oneLineError(t, env.Run("events", "--since", "1m", "--until", "2m"), 1, "Error response from daemon: `since` time (")
	oneLineError(t, env.Run("events", "--format", "{{.Nope}}"), 64, `Error parsing format: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope`)
	oneLineError(t, env.Run("events", "--format", "{{"), 64, "Error parsing format: template: :1: unclosed action")
	res := env.Run("events", "--filter", "nonsense")
	if res.Code != 125 || !strings.Contains(res.Stderr, `invalid argument "nonsense" for "-f, --filter" flag: bad format of filter (expected name=value)`) {
		t.Errorf("--filter without =: %s", res)
	}
	res = env.Run("events", "extra")
	if res.Code != 1 || !strings.HasPrefix(res.Stderr, "\"berth events\" accepts no arguments.\n") {
		t.Errorf("events extra: %s", res)
	}
}
