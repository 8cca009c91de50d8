package main

import (
	"bytes"
	"flag"
	"fmt"
	"github.com/berth-project/berth/internal/procfs"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/berth-project/berth/internal/ids"
	"github.com/berth-project/berth/runtime"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// psGoldenNow is the fixed clock of the ps golden files.
var psGoldenNow = time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)

func psGoldenContainers() []*runtime.Container {
	at := func(d time.Duration) time.Time { return psGoldenNow.Add(-d) }
	img := "sha256:" + strings.Repeat("9", 64)
	return []*runtime.Container{
		{
			Record: runtime.Record{
				ID: strings.Repeat("f", 64), Name: "web", Created: at(2 * time.Minute),
				Image: "docker.io/library/nginx:latest", ImageID: img,
				Path: "/docker-entrypoint.sh", Args: []string{"nginx", "-g", "daemon off;"},
				Config: &container.Config{Image: "nginx", ExposedPorts: nat.PortSet{"80/tcp": {}, "443/tcp": {}},
					Labels: map[string]string{"tier": "front", "app": "web"}},
				HostConfig: &container.HostConfig{},
				Mounts:     []container.MountPoint{{Type: "volume", Name: "averyveryverylongvolumename", Driver: "local"}},
			},
			State: runtime.State{Status: runtime.StatusRunning, StartedAt: at(time.Minute),
				Ports:    map[string][]runtime.PortBinding{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "3344"}}},
				Networks: map[string]*network.EndpointSettings{"bridge": {}}},
		},
		{
			Record: runtime.Record{
				ID: strings.Repeat("e", 64), Name: "sleepy", Created: at(10 * time.Minute),
				Image: "docker.io/library/busybox:latest", ImageID: img,
				Path: "sh", Args: []string{"-c", "sleep 1000"}, Config: &container.Config{Image: "busybox"},
			},
			State: runtime.State{Status: runtime.StatusPaused, StartedAt: at(2 * time.Minute)},
		},
		{
			Record: runtime.Record{
				ID: strings.Repeat("d", 64), Name: "flaky", Created: at(time.Hour),
				Image: "docker.io/library/busybox:latest", ImageID: img,
				Path: "false", Config: &container.Config{Image: "busybox:latest"},
			},
			State: runtime.State{Status: runtime.StatusRestarting, ExitCode: 1, StartedAt: at(3 * time.Second), FinishedAt: at(2 * time.Second)},
		},
		{
			Record: runtime.Record{
				ID: strings.Repeat("c", 64), Name: "done", Created: at(3 * 24 * time.Hour),
				Image: "localhost:5000/tools/app:1.2", ImageID: img,
				Path: "echo", Args: []string{"hello"}, Config: &container.Config{Image: "localhost:5000/tools/app:1.2"},
			},
			State: runtime.State{Status: runtime.StatusExited, ExitCode: 0, StartedAt: at(3 * 24 * time.Hour), FinishedAt: at(4 * time.Minute)},
		},
		{
			Record: runtime.Record{
				ID: strings.Repeat("b", 64), Name: "fresh", Created: at(5 * time.Second),
				Image: "docker.io/library/busybox:latest", ImageID: img,
				Path: "true", Config: &container.Config{Image: "busybox"},
			},
			State: runtime.State{Status: runtime.StatusCreated},
		},
	}
}

func TestPsGolden(t *testing.T) {
	cases := []struct {
		name    string
		format  string
		noTrunc bool
		size    bool
	}{
		{"default", "", false, false},
		{"notrunc", "", true, false},
		{"size", psDefaultFormat + `\t{{.Size}}`, false, true},
		{"custom", "table {{.Names}}\t{{.State}}\t{{.Labels}}\t{{.Label \"app\"}}\t{{.Mounts}}\t{{.Networks}}", false, false},
		{"raw", "{{.ID}}: {{.Command}} {{.Status}}", false, false},
		{"json", "json", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rows []*psRow
			var items []any
			for _, c := range psGoldenContainers() {
				r := &psRow{c: c, trunc: !tc.noTrunc, now: psGoldenNow}
				if tc.size {
					r.sized, r.sizeRw, r.sizeRootFs = true, 2, 4260000+2
				}
				rows = append(rows, r)
				items = append(items, r)
			}
			f := tc.format
			if f == "" {
				f = psDefaultFormat
			}
			var buf, viaTemplate bytes.Buffer
			if err := writePs(&buf, f, rows); err != nil {
				t.Fatal(err)
			}
			// The direct rendering of the default table matches the template's.
			if err := psTable.Write(&viaTemplate, f, items); err != nil {
				t.Fatal(err)
			}
			if buf.String() != viaTemplate.String() {
				t.Errorf("writePs and psTable.Write differ:\n%s\nvs\n%s", buf.String(), viaTemplate.String())
			}
			golden := filepath.Join("testdata", "ps_"+tc.name+".golden")
			if *updateGolden {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if buf.String() != string(want) {
				t.Errorf("output differs from %s:\n%s\nwant:\n%s", golden, buf.String(), want)
			}
		})
	}
}

func TestEllipsis(t *testing.T) {
	cases := map[string]string{
		"sh":                            "sh",
		"sh -c 'sleep 1000'":            "sh -c 'sleep 1000'",
		"sh -c 'sleep 1000; echo done'": "sh -c 'sleep 1000; …",
		"12345678901234567890":          "12345678901234567890",
		"123456789012345678901":         "1234567890123456789…",
	}
	for in, want := range cases {
		if got := ellipsis(in, 20); got != want {
			t.Errorf("ellipsis(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeStore writes n containers (a realistic config.json and state.json each, a fifth of
// them "running" with this process as their live monitor) under a temporary root.
func fakeStore(tb testing.TB, n int) (root, runroot string) {
	tb.Helper()
	dir := tb.TempDir()
	root, runroot = filepath.Join(dir, "root"), filepath.Join(dir, "run")
	rt, err := runtime.Open(runtime.Layout{Root: root, RunRoot: runroot})
	if err != nil {
		tb.Fatal(err)
	}
	self := os.Getpid()
	start := procfs.StartTime(self)
	now := time.Now()
	pids := int64(100)
	for i := 0; i < n; i++ {
		id := ids.NewID()
		rec := runtime.Record{
			ID: id, Name: fmt.Sprintf("bench_%d", i), Created: now.Add(-time.Duration(n-i) * time.Second),
			Image: "docker.io/library/busybox:latest", ImageID: "sha256:" + strings.Repeat("a", 64),
			Path: "sh", Args: []string{"-c", "sleep 1000"},
			Config: &container.Config{
				Hostname: id[:12], Image: "busybox", Cmd: []string{"sh", "-c", "sleep 1000"},
				Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"},
				Labels: map[string]string{"bench": "yes", "index": fmt.Sprint(i)},
			},
			HostConfig: &container.HostConfig{
				NetworkMode: "bridge", RestartPolicy: container.RestartPolicy{Name: "no"},
				LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{}},
				ShmSize:   64 << 20, IpcMode: "private", CgroupnsMode: "host",
				MaskedPaths:   []string{"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"},
				ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
				Resources:     container.Resources{PidsLimit: &pids},
			},
			Networks:  map[string]*network.EndpointSettings{"bridge": {}},
			LowerDirs: []string{filepath.Join(root, "layers", strings.Repeat("b", 64), "diff")},
		}
		st := runtime.State{Status: runtime.StatusExited, ExitCode: 0, StartedAt: rec.Created.Add(time.Second), FinishedAt: rec.Created.Add(2 * time.Second)}
		if i%5 == 0 {
			st = runtime.State{Status: runtime.StatusRunning, Pid: self, PidStart: start, MonitorPid: self, MonitorStart: start,
				StartedAt: rec.Created.Add(time.Second), SandboxKey: filepath.Join(runroot, "netns", id),
				Networks: map[string]*network.EndpointSettings{"bridge": {NetworkID: strings.Repeat("1", 64), EndpointID: strings.Repeat("2", 64),
					Gateway: "172.17.0.1", IPAddress: "172.17.0.2", IPPrefixLen: 16, MacAddress: "02:42:ac:11:00:02"}},
			}
		}
		if err := os.MkdirAll(rt.Layout.ContainerDir(id), 0o711); err != nil {
			tb.Fatal(err)
		}
		if err := rt.SaveRecord(&rec); err != nil {
			tb.Fatal(err)
		}
		if err := rt.SaveState(id, &st); err != nil {
			tb.Fatal(err)
		}
	}
	return root, runroot
}

// BenchmarkPs times `ps -a` on synthetic stores of 200 and 1000 containers: in process (the
// command's own work) and, when BERTH_BINARY names a built berth, as a whole process.
func BenchmarkPs(b *testing.B) {
	for _, n := range []int{200, 1000} {
		root, runroot := fakeStore(b, n)
		// As on a store not changed in the last seconds: ps trusts its index only for folders
		// that changed some time before it was written (see runtime's psRacyWindow).
		time.Sleep(2100 * time.Millisecond)
		b.Run(fmt.Sprintf("inprocess/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cli := &CLI{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}
				cmd := newRootCommand(cli)
				cmd.SetArgs([]string{"--root", root, "--runroot", runroot, "ps", "-a"})
				if err := cmd.Execute(); err != nil {
					b.Fatal(err)
				}
			}
		})
		bin := os.Getenv("BERTH_BINARY")
		if bin == "" {
			continue
		}
		b.Run(fmt.Sprintf("binary/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				out, err := exec.Command(bin, "--root", root, "--runroot", runroot, "ps", "-a").CombinedOutput()
				if err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}

func TestPsOnFakeStore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (the store's lock folders)")
	}
	root, runroot := fakeStore(t, 20)
	var out bytes.Buffer
	cli := &CLI{In: strings.NewReader(""), Out: &out, Err: io.Discard}
	cmd := newRootCommand(cli)
	cmd.SetArgs([]string{"--root", root, "--runroot", runroot, "ps", "--format", "{{.Names}} {{.State}}"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] != "bench_15 running" || lines[3] != "bench_0 running" {
		t.Errorf("ps: %q", lines)
	}
	out.Reset()
	cmd = newRootCommand(cli)
	cmd.SetArgs([]string{"--root", root, "--runroot", runroot, "ps", "-aq", "--filter", "status=exited", "-n", "3"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(out.String())); n != 3 {
		t.Errorf("ps -aq -n 3: %q", out.String())
	}
}

// The default table rendered directly matches text/template and tabwriter on awkward cells:
// wide and multi-byte runes, empty cells, long values, and cells the tabwriter treats specially.
func TestPsDefaultTableMatchesTemplate(t *testing.T) {
	base := psGoldenContainers()
	var rows []*psRow
	var items []any
	for i, cmd := range []string{"", "x", "héllo wörld ünïcode", "日本語のコマンドライン", strings.Repeat("a", 200), "tab\there", "nl\nthere", "bad\xffutf8"} {
		c := *base[i%len(base)]
		c.Path, c.Args = cmd, nil
		c.Name = fmt.Sprintf("n%d%s", i, strings.Repeat("x", i*3))
		for _, trunc := range []bool{true, false} {
			r := &psRow{c: &c, trunc: trunc, now: psGoldenNow}
			rows = append(rows, r)
			items = append(items, r)
		}
	}
	for _, f := range []string{psDefaultFormat, psDefaultFormat + `\t{{.Size}}`} {
		for n := 0; n <= len(rows); n++ {
			var got, want bytes.Buffer
			if err := writePs(&got, f, rows[:n]); err != nil {
				t.Fatal(err)
			}
			if err := psTable.Write(&want, f, items[:n]); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%d rows of %q:\n%s\nwant\n%s", n, f, got.String(), want.String())
			}
		}
	}
}
