package runtime

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StatsSample is one reading of a container's resource use, as Docker's stats API returns it.
type StatsSample struct {
	// Read is when the sample was taken.
	Read time.Time
	// Running is false for a container without live processes (its counters are all zero).
	Running bool
	CgroupStats
	// SystemCPU is the host's total CPU time in nanoseconds (/proc/stat), OnlineCPUs its CPUs.
	SystemCPU  uint64
	OnlineCPUs uint32
	// NetRx and NetTx are the bytes received and sent on the container's interfaces (lo excluded).
	NetRx, NetTx uint64
}

// StatsEntry is one row of `docker stats`, computed from two samples.
type StatsEntry struct {
	ID, Name         string
	CPUPercentage    float64
	Memory           float64
	MemoryLimit      float64
	MemoryPercentage float64
	NetworkRx        float64
	NetworkTx        float64
	BlockRead        float64
	BlockWrite       float64
	PidsCurrent      uint64
	// Invalid marks a container whose counters could not be read (shown as "--").
	Invalid bool
}

var (
	hostMemOnce sync.Once
	hostMem     uint64
)

// HostMemory returns the host's total memory in bytes (MemTotal of /proc/meminfo).
func HostMemory() uint64 {
	hostMemOnce.Do(func() {
		data, err := os.ReadFile("/proc/meminfo")
		if err != nil {
			return
		}
		hostMem = parseMemTotal(data)
	})
	return hostMem
}

func parseMemTotal(data []byte) uint64 {
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, _ := strconv.ParseUint(f[0], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// SampleStats reads c's counters now. A container that is not running gives a zero sample with
// Running false, as Docker reports it.
func SampleStats(c *Container) (StatsSample, error) {
	s := StatsSample{Read: time.Now()}
	var err error
	if s.SystemCPU, s.OnlineCPUs, err = systemCPU("/proc/stat"); err != nil {
		return s, err
	}
	if !c.IsRunning() || !Alive(c.Pid, c.PidStart) {
		return s, nil
	}
	cg, err := containerCgroup(c.Pid, c.ID)
	if err != nil {
		return s, fmt.Errorf("stats %s: %w", c.ID, err)
	}
	if s.CgroupStats, err = cg.Read(); err != nil {
		if !Alive(c.Pid, c.PidStart) {
			return StatsSample{Read: s.Read, SystemCPU: s.SystemCPU, OnlineCPUs: s.OnlineCPUs}, nil
		}
		return s, fmt.Errorf("stats %s: %w", c.ID, err)
	}
	if s.MemoryLimit == 0 {
		s.MemoryLimit = HostMemory()
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", c.Pid)); err == nil {
		s.NetRx, s.NetTx = parseNetDev(data)
	}
	s.Running = true
	return s, nil
}

// ComputeStats turns two samples of one container into Docker's stats row: CPU % is the
// container's share of the host's CPU time between the samples times the number of CPUs, memory
// excludes the inactive file cache, and a limit above the host's memory shows as the host's memory.
func ComputeStats(prev, cur StatsSample) StatsEntry {
	e := StatsEntry{}
	if !cur.Running {
		return e
	}
	cpuDelta := float64(cur.CPUUsage) - float64(prev.CPUUsage)
	sysDelta := float64(cur.SystemCPU) - float64(prev.SystemCPU)
	if prev.Running && cpuDelta > 0 && sysDelta > 0 {
		e.CPUPercentage = cpuDelta / sysDelta * float64(cur.OnlineCPUs) * 100
	}
	mem := cur.MemoryUsage
	if cur.MemoryInactiveFile < mem {
		mem -= cur.MemoryInactiveFile
	}
	e.Memory = float64(mem)
	limit := cur.MemoryLimit
	if hm := HostMemory(); hm > 0 && (limit == 0 || limit > hm) {
		limit = hm
	}
	e.MemoryLimit = float64(limit)
	if limit > 0 {
		e.MemoryPercentage = e.Memory / e.MemoryLimit * 100
	}
	e.NetworkRx, e.NetworkTx = float64(cur.NetRx), float64(cur.NetTx)
	e.BlockRead, e.BlockWrite = float64(cur.BlkRead), float64(cur.BlkWrite)
	e.PidsCurrent = cur.Pids
	return e
}

// systemCPU reads the host's total CPU time (the first seven fields of the "cpu" line, in clock
// ticks of 1/100 s) in nanoseconds and counts the cpuN lines, as Docker's daemon does.
func systemCPU(path string) (uint64, uint32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return parseSystemCPU(data)
}

func parseSystemCPU(data []byte) (uint64, uint32, error) {
	var total uint64
	var cpus uint32
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 4 || line[:3] != "cpu" {
			break
		}
		if line[3] == ' ' {
			f := strings.Fields(line)
			if len(f) < 8 {
				return 0, 0, fmt.Errorf("invalid number of cpu fields in /proc/stat")
			}
			var ticks uint64
			for _, v := range f[1:8] {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("parse /proc/stat: %w", err)
				}
				ticks += n
			}
			total = ticks * 1e9 / 100
		} else if line[3] >= '0' && line[3] <= '9' {
			cpus++
		}
	}
	return total, cpus, nil
}

// parseNetDev sums received and sent bytes over the interfaces of a /proc/PID/net/dev file,
// loopback excluded.
func parseNetDev(data []byte) (rx, tx uint64) {
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if name == "lo" || strings.Contains(name, "|") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx += r
		tx += t
	}
	return rx, tx
}
