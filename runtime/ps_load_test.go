package runtime

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"golang.org/x/sys/unix"
)

// psView is what ps reads of a container; listForPs must agree with List on it. Endpoints count
// by network name and ID only (all that ps uses of them).
func psView(c *Container) []any {
	var bindings nat.PortMap
	if c.HostConfig != nil && len(c.HostConfig.PortBindings) > 0 {
		bindings = c.HostConfig.PortBindings
	}
	nets := func(m map[string]*network.EndpointSettings) []string {
		var out []string
		for name, ep := range m {
			id := ""
			if ep != nil {
				id = ep.NetworkID
			}
			out = append(out, name+"="+id)
		}
		sort.Strings(out)
		return out
	}
	st := c.State
	stNets := nets(st.Networks)
	st.Networks = nil
	if len(st.Ports) == 0 {
		st.Ports = nil
	}
	var exposed nat.PortSet
	cfgImage := ""
	if c.Config != nil {
		cfgImage = c.Config.Image
		if len(c.Config.ExposedPorts) > 0 {
			exposed = c.Config.ExposedPorts
		}
	}
	var labels map[string]string
	if len(c.Labels()) > 0 {
		labels = c.Labels()
	}
	var mounts []container.MountPoint
	if len(c.Mounts) > 0 {
		mounts = c.Mounts
	}
	return []any{c.ID, c.Name, c.Created.UnixNano(), c.Image, c.ImageID, CommandLine(&c.Record), labels,
		cfgImage, exposed, bindings, mounts, nets(c.Record.Networks), stNets,
		st.StartedAt.UnixNano(), st.FinishedAt.UnixNano(), st.StartedAt.IsZero(), st.FinishedAt.IsZero(),
		st.Status, st.Pid, st.PidStart, st.MonitorPid, st.MonitorStart, st.ExitCode, st.OOMKilled,
		st.Error, st.RestartCount, st.ManuallyStopped, st.Ports, st.SandboxKey}
}

// settle lets the folders' last changes leave the racy window (shortened for the test), as on a
// store that was not touched recently.
func settle(t *testing.T) {
	t.Helper()
	old := psRacyWindow
	psRacyWindow = int64(60 * time.Millisecond)
	t.Cleanup(func() { psRacyWindow = old })
	time.Sleep(80 * time.Millisecond)
}

func psIndexOf(t *testing.T, rt *Runtime) []psIndexRow {
	t.Helper()
	fd, err := unix.Open(filepath.Join(rt.Layout.Root, "containers"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return readPsIndex(fd)
}

func psIndexIno(t *testing.T, rt *Runtime) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(rt.Layout.Root, "containers", psIndexName), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestListForPsMatchesListAndCaches(t *testing.T) {
	rt := newObserveRuntime(t)
	now := time.Now().UTC()
	for i, ch := range []string{"a", "b", "c", "d"} {
		c := &Container{
			Record: Record{
				ID: strings.Repeat(ch, 64), Name: "n" + ch, Created: now.Add(time.Duration(i) * time.Second),
				Image: "docker.io/library/busybox:latest", ImageID: "sha256:" + strings.Repeat("1", 64),
				Path: "sh", Args: []string{"-c", "sleep 1"},
				Config: &container.Config{Image: "busybox", Labels: map[string]string{"i": ch, "z": "1"},
					ExposedPorts: nat.PortSet{"80/tcp": {}, "53/udp": {}}},
				HostConfig: &container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostPort: "8080"}, {HostIP: "::1", HostPort: "80"}}}},
				Mounts: []container.MountPoint{{Type: "volume", Name: "v" + ch, Destination: "/data", Driver: "local", RW: true},
					{Type: "bind", Source: "/srv", Destination: "/srv", Propagation: "rprivate"}},
				Networks: map[string]*network.EndpointSettings{"bridge": {Aliases: []string{"x"}, NetworkID: "n1"}, "other": nil},
			},
			State: State{Status: StatusExited, ExitCode: i, StartedAt: now, FinishedAt: now, OOMKilled: true,
				Error: "boom", RestartCount: 2, ManuallyStopped: true,
				Networks: map[string]*network.EndpointSettings{"bridge": {NetworkID: "n1", IPAddress: "10.0.0.2"}},
				Ports:    map[string][]PortBinding{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}}},
		}
		if ch == "d" {
			// The bare minimum: no config parts, no maps.
			c.Record = Record{ID: c.ID, Name: "nd", Created: now.Add(-time.Hour), Path: "true"}
			c.State = State{Status: StatusCreated}
		}
		addFakeContainer(t, rt, c)
	}
	// A container without state.json reads as created.
	os.Remove(rt.Layout.StatePath(strings.Repeat("c", 64)))
	settle(t)

	check := func(step string) {
		t.Helper()
		want, err := rt.List()
		if err != nil {
			t.Fatal(err)
		}
		got, err := rt.listForPs()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d containers, want %d", step, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(psView(got[i]), psView(want[i])) {
				t.Errorf("%s: container %d\n got %v\nwant %v", step, i, psView(got[i]), psView(want[i]))
			}
		}
	}
	check("cold")
	if n := len(psIndexOf(t, rt)); n != 4 {
		t.Fatalf("index has %d entries", n)
	}
	ino := psIndexIno(t, rt)
	check("warm")
	if psIndexIno(t, rt) != ino {
		t.Errorf("an unchanged store rewrote the index")
	}

	// A changed config.json (rename) is read again, even within the racy window.
	a := strings.Repeat("a", 64)
	c, _ := rt.load(a)
	c.Record.Name = "renamed"
	if err := rt.SaveRecord(&c.Record); err != nil {
		t.Fatal(err)
	}
	check("after rename")
	got, _ := rt.listForPs()
	found := false
	for _, c := range got {
		found = found || c.Name == "renamed"
	}
	if !found {
		t.Errorf("the new name is not listed")
	}

	// A changed state.json is read again.
	c.State.Status, c.State.ExitCode = StatusExited, 42
	if err := rt.SaveState(a, &c.State); err != nil {
		t.Fatal(err)
	}
	check("after state change")

	// state.json appearing for a container that had none.
	cc := strings.Repeat("c", 64)
	if err := rt.SaveState(cc, &State{Status: StatusExited, ExitCode: 7, StartedAt: now, FinishedAt: now}); err != nil {
		t.Fatal(err)
	}
	check("after state.json appeared")
	settle(t)
	check("settled")
	ino = psIndexIno(t, rt)
	check("settled, warm")
	if psIndexIno(t, rt) != ino {
		t.Errorf("an unchanged store rewrote the index")
	}

	// A removed container leaves the index.
	os.RemoveAll(rt.Layout.ContainerDir(strings.Repeat("b", 64)))
	check("after remove")
	if n := len(psIndexOf(t, rt)); n != 3 {
		t.Errorf("index has %d entries after remove", n)
	}

	// A damaged index is ignored, and so is an empty one.
	for _, junk := range []string{"garbage", "", psIndexMagic, psIndexMagic + "\x05\x40"} {
		os.WriteFile(filepath.Join(rt.Layout.Root, "containers", psIndexName), []byte(junk), 0o600)
		check("damaged index " + junk)
	}
}

// Entries whose folder changed within psRacyWindow before they were read are not trusted: a
// change in the same clock tick could keep the folder's times.
func TestPsIndexEntryTrusted(t *testing.T) {
	now := time.Now().UnixNano()
	hour := int64(time.Hour)
	old := psFileKey{Ino: 5, Size: 10, Mtime: now - hour, Ctime: now - hour}
	for _, tc := range []struct {
		entry psIndexEntry
		dir   psFileKey
		want  bool
	}{
		{psIndexEntry{dir: old, readAt: now}, old, true},
		{psIndexEntry{dir: old, readAt: now - hour + int64(time.Second)}, old, false},
		{psIndexEntry{dir: old, readAt: now}, psFileKey{Ino: 5, Size: 10, Mtime: now, Ctime: now}, false},
		{psIndexEntry{dir: old, readAt: now}, psFileKey{Ino: 5, Size: 10, Mtime: old.Mtime, Ctime: now}, false},
		{psIndexEntry{dir: old, readAt: now}, psFileKey{Ino: 5, Size: 11, Mtime: old.Mtime, Ctime: old.Ctime}, false},
		{psIndexEntry{dir: old, readAt: now}, psFileKey{Ino: 6, Size: 10, Mtime: old.Mtime, Ctime: old.Ctime}, false},
	} {
		if got := tc.entry.trusted(tc.dir); got != tc.want {
			t.Errorf("%+v trusted(%+v) = %v", tc.entry, tc.dir, got)
		}
	}
}

func TestPsPayloadTruncated(t *testing.T) {
	now := time.Now()
	rec := &psRecord{Name: "x", Created: now, Image: "busybox", Path: "sh", Args: []string{"a", "b c"},
		Mounts:   []container.MountPoint{{Name: "v", Destination: "/d"}},
		Networks: map[string]*psEndpoint{"bridge": {NetworkID: "abc"}}}
	rec.Config = &struct {
		Image        string
		Labels       map[string]string
		ExposedPorts map[nat.Port]struct{}
	}{Image: "busybox", Labels: map[string]string{"k": "v"}, ExposedPorts: map[nat.Port]struct{}{"80/tcp": {}}}
	st := &State{Status: StatusRunning, Pid: 12, StartedAt: now, Ports: map[string][]PortBinding{"80/tcp": {{HostPort: "1"}}}}
	p := string(encodePsPayload(nil, rec, st))
	var c Container
	if err := decodePsPayload(p, "id", &c, newPsShared()); err != nil {
		t.Fatal(err)
	}
	if c.Name != "x" || !c.Created.Equal(now) || c.Pid != 12 || !c.FinishedAt.IsZero() || c.Labels()["k"] != "v" ||
		CommandLine(&c.Record) != "sh a 'b c'" {
		t.Errorf("decoded %+v", c)
	}
	for i := 0; i < len(p); i++ {
		if err := decodePsPayload(p[:i], "id", &c, newPsShared()); err == nil {
			t.Errorf("a payload cut at %d of %d decoded", i, len(p))
		}
	}
	if err := decodePsPayload(p+"x", "id", &c, newPsShared()); err == nil {
		t.Errorf("a payload with trailing bytes decoded")
	}
}
