package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CgroupStats is one sample of a container's cgroup counters, in the same units whichever cgroup
// version the host runs.
type CgroupStats struct {
	// CPUUsage is the total CPU time used, in nanoseconds.
	CPUUsage uint64
	// MemoryUsage is the memory charged to the cgroup, page cache included.
	MemoryUsage uint64
	// MemoryInactiveFile is the inactive file cache (v1 total_inactive_file, v2 inactive_file),
	// which Docker subtracts from the usage it shows.
	MemoryInactiveFile uint64
	// MemoryLimit is the memory limit; 0 means unlimited.
	MemoryLimit uint64
	// BlkRead and BlkWrite are the bytes read from and written to block devices.
	BlkRead, BlkWrite uint64
	// Pids is the number of tasks; PidsLimit their limit (0 = unlimited).
	Pids, PidsLimit uint64
}

// cgroupReader reads the counters of one container's cgroup. There is one implementation per
// cgroup version; both pass the same conformance test (stats_test.go).
type cgroupReader interface {
	Read() (CgroupStats, error)
	// Procs lists the PIDs in the cgroup (cgroup.procs).
	Procs() ([]int, error)
}

// unlimited is the threshold above which a cgroup v1 limit means "no limit"
// (the kernel reports LONG_MAX rounded down to a page).
const unlimited = uint64(1) << 62

// cgroupMounts maps each cgroup v1 controller to its mount point, and "" to the cgroup2 mount.
type cgroupMounts map[string]string

// readCgroupMounts parses a mountinfo file for cgroup and cgroup2 mounts.
func readCgroupMounts(mountinfo string) (cgroupMounts, error) {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", mountinfo, err)
	}
	m := cgroupMounts{}
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf := strings.Fields(pre)
		sf := strings.Fields(post)
		if len(pf) < 5 || len(sf) < 3 {
			continue
		}
		mnt := unescapeMountPath(pf[4])
		switch sf[0] {
		case "cgroup2":
			if _, seen := m[""]; !seen {
				m[""] = mnt
			}
		case "cgroup":
			for _, opt := range strings.Split(sf[2], ",") {
				switch opt {
				case "rw", "ro":
					continue
				}
				if _, seen := m[opt]; !seen {
					m[opt] = mnt
				}
			}
		}
	}
	return m, nil
}

func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseProcCgroup parses /proc/PID/cgroup: controller -> path, with "" for the unified (v2) entry.
func parseProcCgroup(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// unifiedHost tells whether the host runs cgroup v2 only (no v1 controllers mounted).
func (m cgroupMounts) unifiedHost() bool {
	if _, ok := m[""]; !ok {
		return false
	}
	for k := range m {
		if k != "" && !strings.HasPrefix(k, "name=") {
			return false
		}
	}
	return true
}

// containerCgroup finds the cgroup reader for a container: through its init process's
// /proc/PID/cgroup when pid runs, else the default path "/berth/<id>".
func containerCgroup(pid int, id string) (cgroupReader, error) {
	mounts, err := readCgroupMounts("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	if pid > 0 {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil {
			paths = parseProcCgroup(data)
		}
	}
	return cgroupFor(mounts, paths, id)
}

// cgroupFor picks the reader for the host's cgroup layout: the unified hierarchy when no v1
// controller is mounted, else the v1 controllers. paths are the process's cgroups; a missing
// or root entry falls back to "/berth/<id>".
func cgroupFor(mounts cgroupMounts, paths map[string]string, id string) (cgroupReader, error) {
	def := cgroupRel(id)
	pathFor := func(ctrl string) string {
		if p, ok := paths[ctrl]; ok && p != "/" {
			return p
		}
		return def
	}
	if mounts.unifiedHost() {
		return &cgroupV2Reader{dir: filepath.Join(mounts[""], pathFor(""))}, nil
	}
	r := &cgroupV1Reader{dirs: map[string]string{}}
	for _, ctrl := range []string{"cpuacct", "memory", "blkio", "pids"} {
		if mnt, ok := mounts[ctrl]; ok {
			r.dirs[ctrl] = filepath.Join(mnt, pathFor(ctrl))
		}
	}
	if len(r.dirs) == 0 {
		return nil, errors.New("no cgroup controllers mounted")
	}
	return r, nil
}

// readUint reads a file holding one unsigned number; "max" reads as 0 (unlimited).
func readUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := string(bytes.TrimSpace(data))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// readKeyValues reads a flat "key value" file (memory.stat, cpu.stat).
func readKeyValues(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, sc.Err()
}

// readProcs reads a cgroup.procs file.
func readProcs(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// optional turns "file does not exist" into a zero value: a controller may be missing.
func optional(v uint64, err error) (uint64, error) {
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return v, err
}
