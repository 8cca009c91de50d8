package runtime

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// cgroupReaderFactory builds a reader for container id from a fixture tree, the way
// containerCgroup does on a host of that cgroup version.
type cgroupReaderFactory struct {
	name string
	make func(root, id string) (cgroupReader, error)
}

var cgroupFactories = []cgroupReaderFactory{
	{"v1", func(root, id string) (cgroupReader, error) {
		m := cgroupMounts{}
		for _, c := range []string{"cpuacct", "memory", "blkio", "pids"} {
			m[c] = filepath.Join(root, "v1", c)
		}
		m["name=systemd"] = filepath.Join(root, "v1", "systemd")
		return cgroupFor(m, map[string]string{"pids": "/berth/" + id, "": "/"}, id)
	}},
	{"v2", func(root, id string) (cgroupReader, error) {
		m := cgroupMounts{"": filepath.Join(root, "v2")}
		return cgroupFor(m, map[string]string{"": "/berth/" + id}, id)
	}},
}

// TestCgroupReaderConformance runs the same checks against the cgroup v1 and v2 readers on
// fixture trees holding the same numbers in each version's files.
func TestCgroupReaderConformance(t *testing.T) {
	cases := []struct {
		id    string
		want  CgroupStats
		procs []int
	}{
		{"limited", CgroupStats{
			CPUUsage: 123456789000, MemoryUsage: 10 << 20, MemoryInactiveFile: 2 << 20,
			MemoryLimit: 64 << 20, BlkRead: 4196, BlkWrite: 8192, Pids: 3, PidsLimit: 100,
		}, []int{1, 7, 9}},
		{"unlimited", CgroupStats{
			CPUUsage: 5000, MemoryUsage: 1 << 20, MemoryLimit: 0, BlkRead: 512, BlkWrite: 1024,
			Pids: 1, PidsLimit: 0,
		}, []int{42}},
	}
	for _, f := range cgroupFactories {
		for _, tc := range cases {
			t.Run(f.name+"/"+tc.id, func(t *testing.T) {
				r, err := f.make("testdata/cgroup", tc.id)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Read()
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if got != tc.want {
					t.Errorf("Read = %+v\nwant   %+v", got, tc.want)
				}
				procs, err := r.Procs()
				if err != nil {
					t.Fatalf("Procs: %v", err)
				}
				if !reflect.DeepEqual(procs, tc.procs) {
					t.Errorf("Procs = %v, want %v", procs, tc.procs)
				}
			})
		}
		t.Run(f.name+"/missing", func(t *testing.T) {
			r, err := f.make("testdata/cgroup", "gone")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Read(); err == nil {
				t.Error("Read of a missing cgroup succeeded")
			}
			if _, err := r.Procs(); err == nil {
				t.Error("Procs of a missing cgroup succeeded")
			}
		})
	}
}

func TestReadCgroupMounts(t *testing.T) {
	dir := t.TempDir()
	hybrid := `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
41 30 0:38 / /mnt/with\040space rw - cgroup cgroup rw,blkio
`
	unified := `25 22 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	p := filepath.Join(dir, "hybrid")
	os.WriteFile(p, []byte(hybrid), 0o644)
	m, err := readCgroupMounts(p)
	if err != nil {
		t.Fatal(err)
	}
	want := cgroupMounts{
		"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
		"memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids",
		"xattr": "/sys/fs/cgroup/systemd", "name=systemd": "/sys/fs/cgroup/systemd",
		"": "/sys/fs/cgroup/unified", "blkio": "/mnt/with space",
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("hybrid mounts = %v\nwant %v", m, want)
	}
	if m.unifiedHost() {
		t.Error("hybrid host reported as unified")
	}
	p = filepath.Join(dir, "unified")
	os.WriteFile(p, []byte(unified), 0o644)
	if m, err = readCgroupMounts(p); err != nil || !m.unifiedHost() || m[""] != "/sys/fs/cgroup" {
		t.Errorf("unified mounts = %v, %v", m, err)
	}
}

func TestParseProcCgroup(t *testing.T) {
	got := parseProcCgroup([]byte("12:pids:/berth/abc\n4:cpu,cpuacct:/berth/abc\n1:name=systemd:/\n0::/berth/abc\n"))
	want := map[string]string{"pids": "/berth/abc", "cpu": "/berth/abc", "cpuacct": "/berth/abc", "name=systemd": "/", "": "/berth/abc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestCgroupForFallsBackToDefaultPath(t *testing.T) {
	r, err := cgroupFor(cgroupMounts{"memory": "/m", "pids": "/p"}, map[string]string{"pids": "/"}, "abc")
	if err != nil {
		t.Fatal(err)
	}
	v1 := r.(*cgroupV1Reader)
	if v1.dirs["pids"] != "/p/berth/abc" || v1.dirs["memory"] != "/m/berth/abc" {
		t.Errorf("dirs = %v", v1.dirs)
	}
	if _, err := cgroupFor(cgroupMounts{}, nil, "abc"); err == nil {
		t.Error("no controllers: want an error")
	}
}

func TestParseSystemCPU(t *testing.T) {
	data := []byte("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\ncpu1 50 0 25 400 25 0 0 0 0 0\nintr 12345\n")
	total, n, err := parseSystemCPU(data)
	if err != nil {
		t.Fatal(err)
	}
	if total != 1000*1e9/100 || n != 2 {
		t.Errorf("total %d cpus %d", total, n)
	}
	if _, _, err := parseSystemCPU([]byte("cpu  1 2\n")); err == nil {
		t.Error("short cpu line: want an error")
	}
}

func TestParseNetDev(t *testing.T) {
	data := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   12345      10    0    0    0     0          0         0    12345      10    0    0    0     0       0          0
  eth0:    1296      16    0    0    0     0          0         0      648       8    0    0    0     0       0          0
  eth1:     100       1    0    0    0     0          0         0       50       1    0    0    0     0       0          0
`)
	rx, tx := parseNetDev(data)
	if rx != 1396 || tx != 698 {
		t.Errorf("rx %d tx %d", rx, tx)
	}
}

func TestComputeStats(t *testing.T) {
	host := HostMemory()
	if host == 0 {
		t.Skip("no /proc/meminfo")
	}
	prev := StatsSample{Running: true, CgroupStats: CgroupStats{CPUUsage: 1e9}, SystemCPU: 100e9, OnlineCPUs: 2}
	cur := StatsSample{Running: true, SystemCPU: 102e9, OnlineCPUs: 2, NetRx: 10, NetTx: 20,
		CgroupStats: CgroupStats{CPUUsage: 1.5e9, MemoryUsage: 10 << 20, MemoryInactiveFile: 2 << 20, MemoryLimit: 64 << 20, BlkRead: 1, BlkWrite: 2, Pids: 4}}
	e := ComputeStats(prev, cur)
	if math.Abs(e.CPUPercentage-50) > 1e-9 {
		t.Errorf("CPU %% = %v, want 50", e.CPUPercentage)
	}
	if e.Memory != 8<<20 || e.MemoryLimit != 64<<20 || math.Abs(e.MemoryPercentage-12.5) > 1e-9 {
		t.Errorf("memory %v / %v (%v%%)", e.Memory, e.MemoryLimit, e.MemoryPercentage)
	}
	if e.NetworkRx != 10 || e.NetworkTx != 20 || e.BlockRead != 1 || e.BlockWrite != 2 || e.PidsCurrent != 4 {
		t.Errorf("io %+v", e)
	}

	// No limit: the host's memory is the limit. No previous sample: no CPU figure yet.
	cur.MemoryLimit = 0
	e = ComputeStats(StatsSample{}, cur)
	if e.MemoryLimit != float64(host) || e.CPUPercentage != 0 {
		t.Errorf("unlimited: limit %v cpu %v", e.MemoryLimit, e.CPUPercentage)
	}
	// Inactive file above usage is ignored rather than wrapping around.
	cur.MemoryInactiveFile = 20 << 20
	if e = ComputeStats(prev, cur); e.Memory != 10<<20 {
		t.Errorf("memory %v", e.Memory)
	}
	// A stopped container is all zeros.
	if e = ComputeStats(prev, StatsSample{}); e != (StatsEntry{}) {
		t.Errorf("stopped: %+v", e)
	}
}
