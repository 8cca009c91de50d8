package events

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// helperEnv makes the test binary a writer process for TestRecordConcurrentProcesses.
const helperEnv = "BERTH_EVENTS_TEST_WRITER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		dir, who, _ := strings.Cut(spec, ",")
		MaxSize = 1 << 30
		writeMany(dir, who, 300)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writeMany records n container events from writer who, each with a bulky attribute so that
// lines are several kilobytes (more than PIPE_BUF).
func writeMany(dir, who string, n int) {
	bulk := strings.Repeat(who, 6000/len(who))
	for i := range n {
		Record(dir, Container, "start", who, map[string]string{"seq": strconv.Itoa(i), "bulk": bulk, "name": who})
	}
}

// readAll decodes every line of the journal files in dir, failing on a line that is not JSON.
func readAll(t *testing.T, dir string) []Message {
	t.Helper()
	var out []Message
	for _, name := range []string{RotatedName, FileName} {
		f, err := os.Open(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m Message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: torn line %.80q: %v", name, sc.Text(), err)
			}
			out = append(out, m)
		}
		f.Close()
	}
	return out
}

// checkSequences checks that each writer's events are all there, in the order written.
func checkSequences(t *testing.T, msgs []Message, writers []string, n int) {
	t.Helper()
	next := map[string]int{}
	for _, m := range msgs {
		seq, _ := strconv.Atoi(m.Actor.Attributes["seq"])
		if seq != next[m.Actor.ID] {
			t.Fatalf("writer %s: event %d where %d was expected", m.Actor.ID, seq, next[m.Actor.ID])
		}
		next[m.Actor.ID]++
	}
	for _, w := range writers {
		if next[w] != n {
			t.Errorf("writer %s: %d events, want %d", w, next[w], n)
		}
	}
}

func TestRecordConcurrentGoroutines(t *testing.T) {
	defer func(old int64) { MaxSize = old }(MaxSize)
	MaxSize = 1 << 30 // all of the 10 MB stays
	dir := t.TempDir()
	writers := []string{"a", "b", "c", "d", "e", "f"}
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Go(func() { writeMany(dir, w, 300) })
	}
	wg.Wait()
	checkSequences(t, readAll(t, dir), writers, 300)
}

func TestRecordConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	writers := []string{"p1", "p2", "p3", "p4"}
	var cmds []*exec.Cmd
	for _, w := range writers {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir+","+w)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	checkSequences(t, readAll(t, dir), writers, 300)
}

func TestRecordFields(t *testing.T) {
	dir := t.TempDir()
	before := time.Now()
	Record(dir, Container, "die", "abc", map[string]string{"image": "busybox", "exitCode": "3"})
	Record(dir, Network, "create", "n1", nil)
	msgs := readAll(t, dir)
	if len(msgs) != 2 {
		t.Fatalf("%d events", len(msgs))
	}
	m := msgs[0]
	if m.Type != Container || m.Action != "die" || m.Actor.ID != "abc" || m.Scope != "local" ||
		m.Status != "die" || m.ID != "abc" || m.From != "busybox" { //nolint:staticcheck // Docker's JSON
		t.Errorf("container event: %+v", m)
	}
	if m.TimeNano < before.UnixNano() || m.Time != m.TimeNano/1e9 {
		t.Errorf("time %d / %d, recorded after %d", m.Time, m.TimeNano, before.UnixNano())
	}
	if n := msgs[1]; n.Actor.Attributes == nil || n.ID != "" { //nolint:staticcheck // Docker's JSON
		t.Errorf("network event: %+v", n)
	}
	// The runroot is made when missing; an empty one records nothing.
	fresh := filepath.Join(dir, "not", "yet")
	Record(fresh, Image, "pull", "busybox:latest", nil)
	if len(readAll(t, fresh)) != 1 {
		t.Error("no event in a runroot made on demand")
	}
	Record("", Image, "pull", "x", nil)
}

func TestRotation(t *testing.T) {
	old := MaxSize
	MaxSize = 16 << 10
	defer func() { MaxSize = old }()
	dir := t.TempDir()
	var wg sync.WaitGroup
	for _, w := range []string{"a", "b", "c"} {
		wg.Go(func() {
			for i := range 200 {
				Record(dir, Container, "start", w, map[string]string{"seq": strconv.Itoa(i)})
			}
		})
	}
	wg.Wait()
	for _, name := range []string{FileName, RotatedName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		// A rotation may lag by the lines appended while it happens.
		if fi.Size() > MaxSize+4<<10 {
			t.Errorf("%s is %d bytes", name, fi.Size())
		}
	}
	// What is left is the latest events, each writer's in order, up to its last one.
	last := map[string]int{}
	for _, m := range readAll(t, dir) {
		seq, _ := strconv.Atoi(m.Actor.Attributes["seq"])
		if prev, ok := last[m.Actor.ID]; ok && seq != prev+1 {
			t.Fatalf("writer %s: %d after %d", m.Actor.ID, seq, prev)
		}
		last[m.Actor.ID] = seq
	}
	for w, seq := range last {
		if seq != 199 {
			t.Errorf("writer %s: last event %d", w, seq)
		}
	}
}

func TestCrosses(t *testing.T) {
	for _, c := range []struct {
		start, end int64
		want       bool
	}{{0, 10, false}, {90, 100, true}, {100, 110, false}, {95, 205, true}, {195, 199, false}} {
		if got := crosses(c.start, c.end, 100); got != c.want {
			t.Errorf("crosses(%d, %d) = %v", c.start, c.end, got)
		}
	}
}

func TestStreamReplayAndFollow(t *testing.T) {
	dir := t.TempDir()
	Record(dir, Container, "create", "c1", nil)
	time.Sleep(2 * time.Millisecond)
	mid := time.Now()
	Record(dir, Container, "start", "c1", nil)

	// --since replays from mid, then follows.
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		done <- Stream(ctx, dir, Options{Since: mid, Poll: 50 * time.Millisecond}, func(m *Message) error {
			got <- string(m.Action) + " " + m.Actor.ID
			return nil
		})
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q, want %q", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q", want)
		}
	}
	expect("start c1")
	Record(dir, Container, "die", "c1", nil)
	expect("die c1")
	// Rotations while following lose nothing, even two between two looks.
	old := MaxSize
	MaxSize = 2500
	for i := range 40 {
		Record(dir, Container, "kill", "r"+strconv.Itoa(i), nil)
	}
	MaxSize = old
	for i := range 40 {
		expect("kill r" + strconv.Itoa(i))
	}
	if _, err := os.Stat(filepath.Join(dir, RotatedName)); err != nil {
		t.Fatal("no rotation happened:", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStreamUntil(t *testing.T) {
	dir := t.TempDir()
	Record(dir, Image, "pull", "busybox:latest", map[string]string{"name": "busybox"})
	Record(dir, Image, "tag", "sha256:1", map[string]string{"name": "x:1"})
	// An --until in the past replays everything up to it and ends.
	var got []string
	err := Stream(context.Background(), dir, Options{Until: time.Now()}, func(m *Message) error {
		got = append(got, string(m.Action))
		return nil
	})
	if err != nil || strings.Join(got, ",") != "pull,tag" {
		t.Fatalf("got %v, %v", got, err)
	}
	// Filters apply to the replay.
	f, _ := ParseFilter([]string{"event=tag"})
	got = nil
	Stream(context.Background(), dir, Options{Until: time.Now(), Filter: f}, func(m *Message) error {
		got = append(got, string(m.Action))
		return nil
	})
	if strings.Join(got, ",") != "tag" {
		t.Fatalf("filtered: %v", got)
	}
	// An --until in the future follows until then, then ends by itself.
	start := time.Now()
	got = nil
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(50 * time.Millisecond)
		Record(dir, Image, "delete", "sha256:1", nil)
	})
	err = Stream(context.Background(), dir, Options{Since: start, Until: start.Add(400 * time.Millisecond)}, func(m *Message) error {
		got = append(got, string(m.Action))
		return nil
	})
	wg.Wait()
	if err != nil || strings.Join(got, ",") != "delete" {
		t.Fatalf("until in the future: %v, %v", got, err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Errorf("ended after %v", d)
	}
	// An error from the callback ends the stream with it.
	want := fmt.Errorf("stop")
	if err := Stream(context.Background(), dir, Options{Until: time.Now()}, func(*Message) error { return want }); err != want {
		t.Errorf("callback error: %v", err)
	}
}

// BenchmarkRecord is the cost of one event as `run` pays it: a container event with a few
// attributes, appended to a journal on a tmpfs (as /run is on most hosts) when there is one.
func BenchmarkRecord(b *testing.B) {
	dir := b.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err = os.MkdirTemp("/dev/shm", "berth-events-bench"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	attrs := map[string]string{"image": "127.0.0.1:5000/busybox:latest", "name": "charming_almeida", "exitCode": "0"}
	id := strings.Repeat("0123456789abcdef", 4)
	for b.Loop() {
		Record(dir, Container, "die", id, attrs)
	}
}
