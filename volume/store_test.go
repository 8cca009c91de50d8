package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/events"
	"golang.org/x/sys/unix"
)

// fakeContainer writes a containers/<id>/config.json whose Mounts use the named volumes.
func fakeContainer(t *testing.T, root, id string, volumes ...string) {
	t.Helper()
	dir := filepath.Join(root, "containers", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for _, v := range volumes {
		mounts = append(mounts, fmt.Sprintf(`{"Type":"volume","Name":%q,"Destination":"/d"}`, v))
	}
	data := fmt.Sprintf(`{"ID":%q,"Mounts":[%s]}`, id, strings.Join(mounts, ","))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStoreLifecycle(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	v, created, err := s.Create(CreateOptions{Name: "db-data", Labels: map[string]string{"app": "db"}})
	if err != nil || !created {
		t.Fatalf("Create: %v created=%v", err, created)
	}
	if v.Mountpoint != filepath.Join(root, "volumes", "db-data", "_data") {
		t.Errorf("Mountpoint %q", v.Mountpoint)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Fatalf("_data: %v", err)
	}
	again, created, err := s.Create(CreateOptions{Name: "db-data"})
	if err != nil || created || again.Labels["app"] != "db" {
		t.Errorf("second Create = %+v created=%v err=%v, want the existing volume", again, created, err)
	}
	anon, _, err := s.Create(CreateOptions{})
	if err != nil || len(anon.Name) != 64 || !anon.Anonymous() {
		t.Fatalf("anonymous volume %+v: %v", anon, err)
	}
	api := v.API()
	if api.Scope != "local" || api.Driver != "local" || api.Name != "db-data" || api.CreatedAt == "" {
		t.Errorf("API() = %+v", api)
	}

	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d volumes, %v", len(list), err)
	}

	fakeContainer(t, root, "c1", "db-data")
	fakeContainer(t, root, "c2", "db-data", anon.Name)
	err = s.Remove("db-data", RemoveOptions{})
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != "remove db-data: volume is in use - [c1, c2]" {
		t.Errorf("Remove in use = %v", err)
	}
	if err := s.Remove("nope", RemoveOptions{}); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "get nope: no such volume" {
		t.Errorf("Remove missing = %v", err)
	}
	if err := s.Remove("nope", RemoveOptions{Force: true}); err != nil {
		t.Errorf("Remove -f missing = %v", err)
	}
	if err := s.Remove("../etc", RemoveOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Remove ../etc = %v", err)
	}

	// Prune removes nothing in use; without All only anonymous volumes.
	deleted, _, err := s.Prune(PruneOptions{All: true})
	if err != nil || len(deleted) != 0 {
		t.Errorf("Prune with everything in use deleted %v, %v", deleted, err)
	}
	os.RemoveAll(filepath.Join(root, "containers", "c2"))
	os.WriteFile(filepath.Join(anon.Mountpoint, "f"), []byte("12345"), 0o644)
	deleted, reclaimed, err := s.Prune(PruneOptions{})
	if err != nil || len(deleted) != 1 || deleted[0] != anon.Name || reclaimed != 5 {
		t.Errorf("Prune = %v, %d, %v; want the anonymous volume and 5 bytes", deleted, reclaimed, err)
	}
	if err := s.Remove("db-data", RemoveOptions{IgnoreContainer: "c1"}); err != nil {
		t.Errorf("Remove ignoring its only user: %v", err)
	}
	if _, err := s.Get("db-data"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get after remove = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "volumes"))
	for _, e := range entries {
		if e.Name() != ".lock" {
			t.Errorf("left behind in volumes/: %s", e.Name())
		}
	}
}

func TestStoreRecordsEvents(t *testing.T) {
	t.Parallel()
	runRoot := t.TempDir()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create(CreateOptions{Name: "quiet"}); err != nil { // EventsRunRoot "": nothing
		t.Fatal(err)
	}
	s.EventsRunRoot = runRoot
	if _, _, err := s.Create(CreateOptions{Name: "data"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("data", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(runRoot, events.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m events.Message
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s %s %s driver=%s", m.Type, m.Action, m.Actor.ID, m.Actor.Attributes["driver"]))
	}
	want := []string{"volume create data driver=local", "volume destroy data driver=local"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestPruneFilters(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, labels := range map[string]map[string]string{
		"keep": {"env": "prod"}, "drop": {"env": "dev"}, "plain": nil,
	} {
		if _, _, err := s.Create(CreateOptions{Name: name, Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	deleted, _, err := s.Prune(PruneOptions{All: true, Labels: []string{"env=dev"}})
	if err != nil || len(deleted) != 1 || deleted[0] != "drop" {
		t.Errorf("prune label=env=dev: %v %v", deleted, err)
	}
	deleted, _, err = s.Prune(PruneOptions{All: true, NotLabels: []string{"env"}})
	if err != nil || len(deleted) != 1 || deleted[0] != "plain" {
		t.Errorf("prune label!=env: %v %v", deleted, err)
	}
}

func TestConcurrentCreateSameName(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdCount := 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, created, err := s.Create(CreateOptions{Name: "shared"})
			if err != nil {
				t.Error(err)
			}
			if created {
				mu.Lock()
				createdCount++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if createdCount != 1 {
		t.Errorf("%d creators think they made the volume", createdCount)
	}
}

func TestLocalDriverSources(t *testing.T) {
	requiresRoot(t)
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// A tmpfs volume is mounted on _data once, at first use, and unmounted by Remove.
	v, _, err := s.Create(CreateOptions{Name: "tmpvol", Options: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,ro"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		src, ro, err := s.Source(v)
		if err != nil {
			t.Fatal(err)
		}
		if src != v.Mountpoint || !ro {
			t.Errorf("Source = %q ro=%v", src, ro)
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(v.Mountpoint, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC || fs.Blocks*uint64(fs.Bsize) != 1<<20 {
		t.Errorf("_data is not a 1m tmpfs: type %x size %d %v", fs.Type, fs.Blocks*uint64(fs.Bsize), err)
	}
	if mounted, _ := isMountPoint(v.Mountpoint); !mounted {
		t.Error("isMountPoint misses the tmpfs")
	}
	if err := s.Remove("tmpvol", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if mounted, _ := isMountPoint(v.Mountpoint); mounted {
		t.Error("tmpfs left mounted after Remove")
	}
	// A bind volume is its device folder.
	dev := t.TempDir()
	b, _, err := s.Create(CreateOptions{Name: "bindvol", Options: map[string]string{"type": "none", "device": dev, "o": "bind"}})
	if err != nil {
		t.Fatal(err)
	}
	if src, ro, err := s.Source(b); err != nil || src != dev || ro {
		t.Errorf("bind Source = %q %v %v", src, ro, err)
	}
	os.RemoveAll(dev)
	if _, _, err := s.Source(b); err == nil {
		t.Error("a bind volume with a missing device mounted")
	}
}

// TestLockHoldsOffPrune: while a Store holds Lock, its own Create and Remove work, and another
// Store's prune waits until Unlock (container creation relies on it: a volume it made cannot be
// pruned before its config.json names it).
func TestLockHoldsOffPrune(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(); err == nil {
		t.Error("second Lock succeeded")
	}
	if _, _, err := s.Create(CreateOptions{Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("gone", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	v, _, err := s.Create(CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	go func() {
		deleted, _, err := other.Prune(PruneOptions{All: true})
		if err != nil {
			t.Error(err)
		}
		done <- deleted
	}()
	select {
	case d := <-done:
		t.Fatalf("prune ran while the store was locked: %v", d)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := other.Get(v.Name); err != nil {
		t.Fatalf("volume gone under the lock: %v", err)
	}
	s.Unlock()
	if d := <-done; len(d) != 1 || d[0] != v.Name {
		t.Errorf("prune after Unlock deleted %v, want [%s]", d, v.Name)
	}
}
