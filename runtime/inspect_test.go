package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

func inspectFixture(l Layout) *Container {
	id := strings.Repeat("c", 64)
	return &Container{
		Record: Record{
			ID: id, Name: "tomcat7", Created: time.Date(2020, 11, 16, 15, 4, 21, 462258310, time.UTC),
			Image: "docker.io/library/tomcat:7", ImageID: "sha256:" + strings.Repeat("d", 64),
			Path: "catalina.sh", Args: []string{"run"},
			Config: &container.Config{
				Hostname: "cccccccccccc", Image: "tomcat:7", Cmd: []string{"catalina.sh", "run"},
				ExposedPorts: nat.PortSet{"8080/tcp": {}}, Env: []string{"PATH=/bin"},
			},
			HostConfig: &container.HostConfig{
				PortBindings: nat.PortMap{"8080/tcp": {{HostPort: "9999"}}},
			},
			Networks:  map[string]*network.EndpointSettings{"bridge": {Aliases: []string{"a"}}},
			LowerDirs: []string{"/l/top/diff", "/l/base/diff"},
		},
		State: State{
			Status: StatusRunning, Pid: 8151, StartedAt: time.Date(2020, 11, 16, 16, 52, 39, 762574155, time.UTC),
			Networks: map[string]*network.EndpointSettings{"bridge": {
				NetworkID: "n1", EndpointID: "e1", Gateway: "172.17.0.1", IPAddress: "172.17.0.3",
				IPPrefixLen: 16, MacAddress: "02:42:ac:11:00:03",
			}},
			Ports:      map[string][]PortBinding{"8080/tcp": {{HostIP: "0.0.0.0", HostPort: "9999"}}},
			SandboxKey: filepath.Join(l.RunRoot, "netns", id),
		},
	}
}

func TestInspectResponseShape(t *testing.T) {
	rt := newObserveRuntime(t)
	c := inspectFixture(rt.Layout)
	addFakeContainer(t, rt, c)
	os.WriteFile(filepath.Join(rt.Layout.ContainerDir(c.ID), "hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
	os.WriteFile(filepath.Join(rt.Layout.ContainerDir(c.ID), "upper", "f"), make([]byte, 10), 0o644)

	resp, err := rt.Inspect(c, InspectOptions{Size: true, ImageSize: func(string) (int64, error) { return 1000, nil }})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(data, &doc)
	get := func(path string) any {
		var v any = doc
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	dir := rt.Layout.ContainerDir(c.ID)
	want := map[string]any{
		"Id":                            c.ID,
		"Created":                       "2020-11-16T15:04:21.46225831Z",
		"Path":                          "catalina.sh",
		"Name":                          "/tomcat7",
		"Image":                         c.ImageID,
		"Driver":                        "overlay2",
		"Platform":                      "linux",
		"LogPath":                       filepath.Join(dir, c.ID+"-json.log"),
		"HostsPath":                     filepath.Join(dir, "hosts"),
		"ResolvConfPath":                "",
		"State.Status":                  "running",
		"State.Running":                 true,
		"State.Paused":                  false,
		"State.Pid":                     float64(8151),
		"State.StartedAt":               "2020-11-16T16:52:39.762574155Z",
		"State.FinishedAt":              "0001-01-01T00:00:00Z",
		"HostConfig.LogConfig.Type":     "json-file",
		"HostConfig.NetworkMode":        "bridge",
		"HostConfig.RestartPolicy.Name": "no",
		"HostConfig.ShmSize":            float64(67108864),
		"HostConfig.Runtime":            "runc",
		"HostConfig.IpcMode":            "private",
		"GraphDriver.Name":              "overlay2",
		"GraphDriver.Data.LowerDir":     "/l/top/diff:/l/base/diff",
		"GraphDriver.Data.UpperDir":     filepath.Join(dir, "upper"),
		"GraphDriver.Data.MergedDir":    filepath.Join(dir, "merged"),
		"GraphDriver.Data.WorkDir":      filepath.Join(dir, "work"),
		"Config.Image":                  "tomcat:7",
		"NetworkSettings.IPAddress":     "172.17.0.3",
		"NetworkSettings.Gateway":       "172.17.0.1",
		"NetworkSettings.MacAddress":    "02:42:ac:11:00:03",
		"NetworkSettings.IPPrefixLen":   float64(16),
		"NetworkSettings.SandboxKey":    c.SandboxKey,
		"NetworkSettings.Networks.bridge.IPAddress": "172.17.0.3",
		"SizeRw":     float64(10),
		"SizeRootFs": float64(1010),
	}
	for k, v := range want {
		if got := get(k); got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	if got := get("HostConfig.LogConfig.Config"); got == nil {
		t.Error("LogConfig.Config is null, want {}")
	}
	if got, _ := get("Config.Labels").(map[string]any); got == nil {
		t.Error("Config.Labels is null, want {}")
	}
	if got, _ := get("Mounts").([]any); got == nil {
		t.Error("Mounts is null, want []")
	}
	if got, _ := get("HostConfig.MaskedPaths").([]any); len(got) == 0 {
		t.Error("MaskedPaths empty")
	}
	ports, _ := get("NetworkSettings.Ports").(map[string]any)
	if b, _ := ports["8080/tcp"].([]any); len(b) != 1 || b[0].(map[string]any)["HostPort"] != "9999" {
		t.Errorf("Ports = %v", ports)
	}
	if aliases, _ := get("NetworkSettings.Networks.bridge.Aliases").([]any); len(aliases) != 1 {
		t.Errorf("asked-for aliases lost: %v", aliases)
	}
	if id, _ := get("NetworkSettings.SandboxID").(string); len(id) != 64 {
		t.Errorf("SandboxID = %q", id)
	}
	for _, key := range []string{"ExecIDs", "AppArmorProfile", "MountLabel", "ProcessLabel", "RestartCount", "ResolvConfPath", "HostnamePath"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("missing key %s", key)
		}
	}
}

func TestInspectStoppedContainer(t *testing.T) {
	l := Layout{Root: "/r", RunRoot: "/run/x"}
	c := inspectFixture(l)
	c.State = State{Status: StatusExited, ExitCode: 3, Pid: 0, Error: "boom",
		StartedAt: time.Unix(100, 0), FinishedAt: time.Unix(200, 0)}
	resp := InspectResponse(l, c)
	if resp.State.Running || resp.State.Pid != 0 || resp.State.ExitCode != 3 || resp.State.Error != "boom" {
		t.Errorf("state %+v", resp.State)
	}
	if resp.State.FinishedAt != "1970-01-01T00:03:20Z" {
		t.Errorf("FinishedAt %s", resp.State.FinishedAt)
	}
	ns := resp.NetworkSettings
	if len(ns.Ports) != 0 || ns.IPAddress != "" || ns.SandboxKey != "" {
		t.Errorf("stopped container network settings %+v", ns)
	}
	if _, ok := ns.Networks["bridge"]; !ok {
		t.Error("stopped container lost its network")
	}
	if resp.SizeRw != nil {
		t.Error("SizeRw set without --size")
	}

	c.State = State{Status: StatusPaused, Pid: 5}
	if resp = InspectResponse(l, c); !resp.State.Running || !resp.State.Paused || resp.State.Status != "paused" || resp.State.Pid != 5 {
		t.Errorf("paused: %+v", resp.State)
	}
	c.HostConfig = &container.HostConfig{Privileged: true}
	if resp = InspectResponse(l, c); resp.HostConfig.MaskedPaths != nil {
		t.Errorf("privileged container has masked paths %v", resp.HostConfig.MaskedPaths)
	}
}
