package runtime

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestStatusText(t *testing.T) {
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	cases := []struct {
		st   State
		want string
	}{
		{State{Status: StatusCreated}, "Created"},
		{State{Status: StatusRunning, StartedAt: ago(3 * time.Minute)}, "Up 3 minutes"},
		{State{Status: StatusRunning, StartedAt: ago(300 * time.Millisecond)}, "Up Less than a second"},
		{State{Status: StatusRunning, StartedAt: ago(time.Second)}, "Up 1 second"},
		{State{Status: StatusRunning, StartedAt: ago(70 * time.Minute)}, "Up About an hour"},
		{State{Status: StatusRunning, StartedAt: ago(90 * time.Minute)}, "Up 2 hours"},
		{State{Status: StatusPaused, StartedAt: ago(2 * time.Minute)}, "Up 2 minutes (Paused)"},
		{State{Status: StatusRestarting, ExitCode: 1, StartedAt: ago(time.Hour), FinishedAt: ago(2 * time.Second)}, "Restarting (1) 2 seconds ago"},
		{State{Status: StatusExited, ExitCode: 0, StartedAt: ago(time.Hour), FinishedAt: ago(4 * time.Minute)}, "Exited (0) 4 minutes ago"},
		{State{Status: StatusExited, ExitCode: 137, StartedAt: ago(72 * time.Hour), FinishedAt: ago(48 * time.Hour)}, "Exited (137) 2 days ago"},
		{State{Status: StatusExited}, "Created"}, // exited without ever starting (start failed)
		{State{Status: StatusDead}, "Dead"},
		{State{Status: StatusRemoving}, "Removal In Progress"},
	}
	for _, tc := range cases {
		if got := StatusText(&tc.st, now); got != tc.want {
			t.Errorf("StatusText(%+v) = %q, want %q", tc.st.Status, got, tc.want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		path string
		args []string
		want string
	}{
		{"sh", nil, "sh"},
		{"sh", []string{"-c", "sleep 1000"}, "sh -c 'sleep 1000'"},
		{"/docker-entrypoint.sh", []string{"nginx", "-g", "daemon off;"}, "/docker-entrypoint.sh nginx -g 'daemon off;'"},
	}
	for _, tc := range cases {
		if got := CommandLine(&Record{Path: tc.path, Args: tc.args}); got != tc.want {
			t.Errorf("CommandLine(%s %v) = %q, want %q", tc.path, tc.args, got, tc.want)
		}
	}
}

func TestDisplayPorts(t *testing.T) {
	cases := []struct {
		ports []PortSummary
		want  string
	}{
		{nil, ""},
		{[]PortSummary{{PrivatePort: 80, Type: "tcp"}}, "80/tcp"},
		{[]PortSummary{{HostIP: "0.0.0.0", HostPort: 3344, PrivatePort: 80, Type: "tcp"}}, "0.0.0.0:3344->80/tcp"},
		{[]PortSummary{{HostIP: "::", HostPort: 3344, PrivatePort: 80, Type: "tcp"}}, "[::]:3344->80/tcp"},
		{[]PortSummary{{HostIP: "0.0.0.0", HostPort: 8080, PrivatePort: 8080, Type: "tcp"}}, "0.0.0.0:8080->8080/tcp"},
		{[]PortSummary{
			{PrivatePort: 82, Type: "tcp"}, {PrivatePort: 80, Type: "tcp"}, {PrivatePort: 81, Type: "tcp"},
			{PrivatePort: 53, Type: "udp"},
		}, "53/udp, 80-82/tcp"},
		{[]PortSummary{
			{HostIP: "0.0.0.0", HostPort: 9000, PrivatePort: 9000, Type: "tcp"},
			{HostIP: "0.0.0.0", HostPort: 9001, PrivatePort: 9001, Type: "tcp"},
			{HostIP: "127.0.0.1", HostPort: 1234, PrivatePort: 22, Type: "tcp"},
			{PrivatePort: 443, Type: "tcp"},
		}, "443/tcp, 0.0.0.0:9000-9001->9000-9001/tcp, 127.0.0.1:1234->22/tcp"},
	}
	for _, tc := range cases {
		if got := DisplayPorts(tc.ports); got != tc.want {
			t.Errorf("DisplayPorts(%v) = %q, want %q", tc.ports, got, tc.want)
		}
	}
}

func TestPortsFromContainer(t *testing.T) {
	c := &Container{
		Record: Record{
			Config:     &container.Config{ExposedPorts: nat.PortSet{"80/tcp": {}, "443/tcp": {}}},
			HostConfig: &container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostPort: "3344"}}}},
		},
		State: State{Status: StatusRunning, Ports: map[string][]PortBinding{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "3344"}}}},
	}
	if got := DisplayPorts(Ports(c)); got != "443/tcp, 0.0.0.0:3344->80/tcp" {
		t.Errorf("running: %q", got)
	}
	c.State = State{Status: StatusExited}
	if got := DisplayPorts(Ports(c)); got != "80/tcp, 443/tcp" {
		t.Errorf("exited: %q", got)
	}
}

func TestDisplayImage(t *testing.T) {
	id := "sha256:" + strings.Repeat("ab", 32)
	cases := []struct {
		image, cfgImage string
		trunc           bool
		want            string
	}{
		{"docker.io/library/busybox:latest", "busybox", true, "busybox"},
		{"docker.io/library/busybox:latest", "", true, "busybox:latest"},
		{"docker.io/library/busybox:latest", "", false, "docker.io/library/busybox:latest"},
		{"", "localhost:5000/app:1", true, "localhost:5000/app:1"},
		{"", "busybox:1@sha256:" + strings.Repeat("0", 64), true, "busybox:1"},
		{"", "abababababab", true, "abababababab"},
		{"", id, true, "abababababab"},
		{"", "", true, "abababababab"},
		{"", "", false, id},
	}
	for _, tc := range cases {
		c := &Container{Record: Record{Image: tc.image, ImageID: id, Config: &container.Config{Image: tc.cfgImage}}}
		if got := DisplayImage(c, tc.trunc); got != tc.want {
			t.Errorf("DisplayImage(%q, %q, %v) = %q, want %q", tc.image, tc.cfgImage, tc.trunc, got, tc.want)
		}
	}
}

// psFixture returns containers newest first, as List does.
func psFixture() []*Container {
	base := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	mk := func(i int, name, status string, exit int, labels map[string]string) *Container {
		c := &Container{
			Record: Record{
				ID: strings.Repeat(string(rune('a'+i)), 64), Name: name, Created: base.Add(time.Duration(i) * time.Minute),
				Image: "docker.io/library/busybox:latest", ImageID: "sha256:" + strings.Repeat("1", 64),
				Config: &container.Config{Image: "busybox", Labels: labels},
			},
			State: State{Status: status, ExitCode: exit},
		}
		if status != StatusCreated {
			c.StartedAt = c.Created.Add(time.Second)
		}
		if status == StatusExited {
			c.FinishedAt = c.StartedAt.Add(time.Second)
		}
		return c
	}
	list := []*Container{
		mk(0, "web", StatusRunning, 0, map[string]string{"app": "web", "tier": "front"}),
		mk(1, "db", StatusExited, 1, map[string]string{"app": "db"}),
		mk(2, "cache", StatusPaused, 0, nil),
		mk(3, "job", StatusExited, 0, nil),
		mk(4, "fresh", StatusCreated, 0, nil),
	}
	list[2].Image, list[2].Config.Image = "docker.io/library/alpine:3", "alpine:3"
	list[2].ImageID = "sha256:" + strings.Repeat("2", 64)
	list[0].Record.Networks = map[string]*network.EndpointSettings{"bridge": {}}
	list[0].Mounts = []container.MountPoint{{Name: "data", Destination: "/data"}}
	list[0].Config.ExposedPorts = nat.PortSet{"80/tcp": {}}
	// newest first
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func names(list []*Container) string {
	var out []string
	for _, c := range list {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func TestSelectContainers(t *testing.T) {
	cases := []struct {
		all     bool
		limit   int
		filters []string
		want    string
	}{
		{false, 0, nil, "cache,web"},
		{true, 0, nil, "fresh,job,cache,db,web"},
		{false, 2, nil, "fresh,job"},
		{false, 1, nil, "fresh"},
		{false, 0, []string{"status=exited"}, "job,db"},
		{false, 0, []string{"status=exited", "status=created"}, "fresh,job,db"},
		{false, 0, []string{"status=paused"}, "cache"},
		{true, 0, []string{"exited=1"}, "db"},
		{true, 0, []string{"exited=0"}, "job"},
		{true, 0, []string{"name=we"}, "web"},
		{true, 0, []string{"name=^/?c"}, "cache"},
		{true, 0, []string{"id=bbbb"}, "db"},
		{true, 0, []string{"label=app"}, "db,web"},
		{true, 0, []string{"label=app=web"}, "web"},
		{true, 0, []string{"label=app=web", "label=tier=front"}, "web"},
		{true, 0, []string{"label=app=nope"}, ""},
		{true, 0, []string{"ancestor=busybox"}, "fresh,job,db,web"},
		{true, 0, []string{"ancestor=alpine:3"}, "cache"},
		{true, 0, []string{"ancestor=sha256:" + strings.Repeat("2", 64)}, "cache"},
		{true, 0, []string{"before=cache"}, "db,web"},
		{true, 0, []string{"since=cache"}, "fresh,job"},
		{true, 0, []string{"volume=/data"}, "web"},
		{true, 0, []string{"volume=data"}, "web"},
		{true, 0, []string{"network=bridge"}, "web"},
		{true, 0, []string{"expose=80"}, "web"},
		{true, 0, []string{"expose=80-90/tcp"}, "web"},
		{true, 0, []string{"publish=80"}, ""},
		{true, 0, []string{"health=none"}, "fresh,job,cache,db,web"},
		{true, 0, []string{"is-task=false"}, "fresh,job,cache,db,web"},
		{true, 2, []string{"label=app"}, "db,web"},
	}
	for _, tc := range cases {
		f, err := ParseFilters(tc.filters)
		if err != nil {
			t.Fatal(err)
		}
		got, err := SelectContainers(psFixture(), PsOptions{All: tc.all, Limit: tc.limit, Filters: f})
		if err != nil {
			t.Errorf("%v: %v", tc.filters, err)
			continue
		}
		if names(got) != tc.want {
			t.Errorf("all=%v n=%d %v: got %q, want %q", tc.all, tc.limit, tc.filters, names(got), tc.want)
		}
	}
}

func TestSelectContainersErrors(t *testing.T) {
	cases := map[string]string{
		"bogus=1":       "invalid filter 'bogus'",
		"status=asleep": "invalid filter 'status=asleep'",
		"exited=x":      "invalid filter 'exited=x'",
		"before=nosuch": "No such container: nosuch",
		"publish=1:2":   "filter for 'publish' should not contain ':': 1:2",
		"health=sick":   "invalid filter 'health=sick'",
	}
	for filter, want := range cases {
		f, err := ParseFilters([]string{filter})
		if err != nil {
			t.Fatal(err)
		}
		_, err = SelectContainers(psFixture(), PsOptions{Filters: f})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", filter, err, want)
		}
	}
	if _, err := ParseFilters([]string{"novalue"}); err == nil || !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("ParseFilters without '=': %v", err)
	}
}

func TestDirSize(t *testing.T) {
	dir := t.TempDir()
	if n, err := dirSize(dir + "/missing"); err != nil || n != 0 {
		t.Errorf("missing dir: %d %v", n, err)
	}
	write := func(name string, size int) {
		if err := writeFileSize(dir+"/"+name, size); err != nil {
			t.Fatal(err)
		}
	}
	write("a", 100)
	write("sub/b", 23)
	if err := linkFile(dir+"/a", dir+"/sub/a-link"); err != nil {
		t.Fatal(err)
	}
	if n, err := dirSize(dir); err != nil || n != 123 {
		t.Errorf("dirSize = %d, %v; want 123 (hard link counted once)", n, err)
	}
}
