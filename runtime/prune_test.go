package runtime

import (
	"github.com/berth-project/berth/internal/procfs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"10m":                  now.Add(-10 * time.Minute),
		"24h":                  now.Add(-24 * time.Hour),
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 5e8),
		"2024-03-01T10:00:00Z": time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01":           time.Date(2024, 3, 1, 0, 0, 0, 0, time.Local),
		"0":                    time.Unix(0, 0),
	}
	for in, want := range cases {
		got, err := ParseTimestamp(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "1e9", "10x"} {
		if _, err := ParseTimestamp(bad, now); err == nil {
			t.Errorf("ParseTimestamp(%q) succeeded", bad)
		}
	}
}

func TestPrune(t *testing.T) {
	rt := newObserveRuntime(t)
	now := time.Now()
	self := os.Getpid()
	mk := func(ch string, name, status string, age time.Duration, labels map[string]string, upper int) *Container {
		c := &Container{
			Record: Record{ID: strings.Repeat(ch, 64), Name: name, Created: now.Add(-age),
				Config: &container.Config{Labels: labels}, HostConfig: &container.HostConfig{}},
			State: State{Status: status},
		}
		if status == StatusRunning {
			// A live "monitor" (this test process) keeps the container running through List.
			c.MonitorPid, c.MonitorStart = self, procfs.StartTime(self)
			c.Pid, c.PidStart = self, procfs.StartTime(self)
		}
		addFakeContainer(t, rt, c)
		if upper > 0 {
			os.WriteFile(filepath.Join(rt.Layout.ContainerDir(c.ID), "upper", "data"), make([]byte, upper), 0o644)
		}
		return c
	}
	run := mk("a", "running", StatusRunning, time.Hour, nil, 0)
	old := mk("b", "old", StatusExited, 48*time.Hour, map[string]string{"keep": "no"}, 100)
	recent := mk("c", "recent", StatusExited, time.Minute, nil, 10)
	created := mk("d", "created", StatusCreated, 72*time.Hour, map[string]string{"keep": "yes"}, 0)

	f, _ := ParseFilters([]string{"bogus=1"})
	if _, err := rt.Prune(f, now); err == nil || err.Error() != "invalid filter 'bogus'" {
		t.Errorf("bad filter: %v", err)
	}
	f, _ = ParseFilters([]string{"until=never"})
	if _, err := rt.Prune(f, now); err == nil {
		t.Error("bad until accepted")
	}

	// until=24h keeps the recent one; label!=keep=yes keeps "created".
	f, _ = ParseFilters([]string{"until=24h", "label!=keep=yes"})
	rep, err := rt.Prune(f, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ContainersDeleted) != 1 || rep.ContainersDeleted[0] != old.ID || rep.SpaceReclaimed != 100 {
		t.Errorf("first prune: %+v", rep)
	}

	f, _ = ParseFilters(nil)
	rep, err = rt.Prune(f, now)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rep.ContainersDeleted)
	if len(rep.ContainersDeleted) != 2 || rep.ContainersDeleted[0] != recent.ID || rep.ContainersDeleted[1] != created.ID || rep.SpaceReclaimed != 10 {
		t.Errorf("second prune: %+v", rep)
	}
	list, err := rt.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != run.ID {
		t.Errorf("left: %v", names(list))
	}
	for _, c := range []*Container{old, recent, created} {
		if _, err := os.Stat(rt.Layout.ContainerDir(c.ID)); !os.IsNotExist(err) {
			t.Errorf("%s folder still there: %v", c.Name, err)
		}
	}
}
