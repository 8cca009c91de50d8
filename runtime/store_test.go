package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/internal/procfs"
	"github.com/berth-project/berth/internal/seccompcache"
	"github.com/docker/docker/api/types/container"
)

func testRuntime(t *testing.T) *Runtime {
	t.Helper()
	r, err := Open(Layout{Root: t.TempDir(), RunRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func create(t *testing.T, r *Runtime, name string) *Container {
	t.Helper()
	c, err := r.Create(CreateOptions{
		Name: name, Image: "busybox", ImageID: "sha256:" + strings.Repeat("0", 64),
		Config:     &container.Config{Cmd: []string{"true"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateGetRemove(t *testing.T) {
	r := testRuntime(t)
	c := create(t, r, "web")
	if c.Status != StatusCreated || c.Config.Hostname != c.ID[:12] || c.HostConfig.ShmSize != DefaultShmSize {
		t.Errorf("created: %+v %+v", c.State, c.Config)
	}
	for _, ref := range []string{c.ID, c.ID[:5], "web", "/web"} {
		got, err := r.Get(ref)
		if err != nil || got.ID != c.ID {
			t.Errorf("Get(%q) = %v, %v", ref, got, err)
		}
	}
	if _, err := r.Get("nope"); !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "No such container: nope" {
		t.Errorf("Get(nope): %v", err)
	}
	_, err := r.Create(CreateOptions{Name: "web", Config: &container.Config{Cmd: []string{"x"}}})
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), `The container name "/web" is already in use by container "`+c.ID+`"`) {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := r.Create(CreateOptions{Name: "a", Config: &container.Config{Cmd: []string{"x"}}}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("one-letter name accepted: %v", err)
	}
	if _, err := r.Create(CreateOptions{Config: &container.Config{}}); err == nil || err.Error() != "no command specified" {
		t.Errorf("no command: %v", err)
	}
	if err := r.Rename(c.ID, "api"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("web"); err == nil {
		t.Error("old name still resolves")
	}
	if got, err := r.Get("api"); err != nil || got.ID != c.ID {
		t.Errorf("new name: %v", err)
	}
	if err := r.Remove(c.ID, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Layout.ContainerDir(c.ID)); !os.IsNotExist(err) {
		t.Errorf("container folder left: %v", err)
	}
	// The name is free again.
	create(t, r, "api")
}

func TestListAndPrefixConflicts(t *testing.T) {
	r := testRuntime(t)
	var wg sync.WaitGroup
	ids := make(chan string, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := r.Create(CreateOptions{Config: &container.Config{Cmd: []string{"true"}}, HostConfig: &container.HostConfig{}})
			if err != nil {
				t.Error(err)
				return
			}
			ids <- c.ID
		}()
	}
	wg.Wait()
	close(ids)
	list, err := r.List()
	if err != nil || len(list) != 10 {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	names := map[string]bool{}
	for _, c := range list {
		if names[c.Name] {
			t.Errorf("duplicate random name %s", c.Name)
		}
		names[c.Name] = true
	}
	for i := 1; i < len(list); i++ {
		if list[i].Created.After(list[i-1].Created) {
			t.Error("List is not newest first")
		}
	}
}

func TestReconcileDeadMonitor(t *testing.T) {
	r := testRuntime(t)
	c := create(t, r, "crashed")
	st := c.State
	st.Status = StatusRunning
	st.MonitorPid = 1 << 22 // no such process
	st.Pid = 1<<22 + 1
	st.StartedAt = time.Now().UTC()
	if err := r.SaveState(c.ID, &st); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get("crashed")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusExited || got.ExitCode != 255 || got.Error == "" || got.FinishedAt.IsZero() {
		t.Errorf("reconciled state: %+v", got.State)
	}
	// A live process (this test) with the right start time counts as alive.
	if !Alive(os.Getpid(), procfs.StartTime(os.Getpid())) || Alive(os.Getpid(), 1) {
		t.Error("Alive ignores the start time")
	}
}

// The container's init opens the seccomp cache relative to its rootfs (the monitor's
// <container>/merged).
func TestSeccompDirFromRootfs(t *testing.T) {
	l := Layout{Root: "/var/lib/berth", RunRoot: "/run/berth"}
	rootfs := filepath.Join(l.ContainerDir("0123abcd"), "merged")
	if got := filepath.Join(rootfs, seccompcache.RelDir); got != l.SeccompDir() {
		t.Fatalf("rootfs/%s = %s, want %s", seccompcache.RelDir, got, l.SeccompDir())
	}
}

// run creates its container with the ID it gave the prestarted monitor.
func TestCreateWithGivenID(t *testing.T) {
	r := testRuntime(t)
	opts := func(id string) CreateOptions {
		return CreateOptions{
			ID: id, Image: "busybox", ImageID: "sha256:" + strings.Repeat("0", 64),
			Config:     &container.Config{Cmd: []string{"true"}},
			HostConfig: &container.HostConfig{NetworkMode: "none"},
		}
	}
	id := ids.NewID()
	c, err := r.Create(opts(id))
	if err != nil || c.ID != id {
		t.Fatalf("Create with ID %s: %v, %v", id, c, err)
	}
	if _, err := r.Create(opts(id)); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("Create with a taken ID: %v", err)
	}
	for _, bad := range []string{"abc", strings.Repeat("g", 64), "../" + id[3:]} {
		if _, err := r.Create(opts(bad)); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Create with ID %q: %v", bad, err)
		}
	}
}
