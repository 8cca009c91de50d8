package runtime

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

// psView is what ps reads of a container; listForPs must agree with List on it.
func psView(c *Container) []any {
	return []any{c.ID, c.Name, c.Created.UnixNano(), c.Image, c.ImageID, CommandLine(&c.Record), c.Labels(),
		c.Config.Image, c.Config.ExposedPorts, c.HostConfig.PortBindings, c.Mounts, c.Record.Networks, c.State}
}

func TestListForPsMatchesListAndCaches(t *testing.T) {
	rt := newObserveRuntime(t)
	now := time.Now().UTC()
	for i, ch := range []string{"a", "b", "c"} {
		c := &Container{
			Record: Record{
				ID: strings.Repeat(ch, 64), Name: "n" + ch, Created: now.Add(time.Duration(i) * time.Second),
				Image: "docker.io/library/busybox:latest", ImageID: "sha256:" + strings.Repeat("1", 64),
				Path: "sh", Args: []string{"-c", "sleep 1"},
				Config: &container.Config{Image: "busybox", Labels: map[string]string{"i": ch},
					ExposedPorts: nat.PortSet{"80/tcp": {}, "53/udp": {}}},
				HostConfig: &container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostPort: "8080"}}}},
				Mounts:     []container.MountPoint{{Type: "volume", Name: "v" + ch, Destination: "/data", Driver: "local", RW: true}},
				Networks:   map[string]*network.EndpointSettings{"bridge": {Aliases: []string{"x"}}},
			},
			State: State{Status: StatusExited, ExitCode: i, StartedAt: now, FinishedAt: now},
		}
		addFakeContainer(t, rt, c)
	}
	// A container without state.json reads as created.
	os.Remove(rt.Layout.StatePath(strings.Repeat("c", 64)))

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
	cache := rt.readPsCache()
	if len(cache.Entries) != 3 {
		t.Fatalf("cache has %d entries", len(cache.Entries))
	}
	check("warm")

	// A changed config.json (rename) is read again.
	c, _ := rt.load(strings.Repeat("a", 64))
	c.Record.Name = "renamed"
	if err := rt.SaveRecord(&c.Record); err != nil {
		t.Fatal(err)
	}
	check("after rename")
	if got := rt.readPsCache().Entries[c.ID].Rec.Name; got != "renamed" {
		t.Errorf("cache kept the old name %q", got)
	}

	// A removed container leaves the cache.
	os.RemoveAll(rt.Layout.ContainerDir(strings.Repeat("b", 64)))
	check("after remove")
	if n := len(rt.readPsCache().Entries); n != 2 {
		t.Errorf("cache has %d entries after remove", n)
	}

	// A damaged cache is ignored.
	os.WriteFile(rt.psCachePath(), []byte("garbage"), 0o600)
	check("damaged cache")
}
