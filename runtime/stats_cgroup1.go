package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupV1Reader reads a container's counters from the per-controller hierarchies of cgroup v1.
type cgroupV1Reader struct {
	// dirs maps a controller (cpuacct, memory, blkio, pids) to the container's folder in it.
	dirs map[string]string
}

func (r *cgroupV1Reader) file(ctrl, name string) string {
	d, ok := r.dirs[ctrl]
	if !ok {
		return ""
	}
	return filepath.Join(d, name)
}

// Read implements cgroupReader.
func (r *cgroupV1Reader) Read() (CgroupStats, error) {
	var s CgroupStats
	var err error
	if p := r.file("cpuacct", "cpuacct.usage"); p != "" {
		if s.CPUUsage, err = optional(readUint(p)); err != nil {
			return s, err
		}
	}
	if p := r.file("memory", "memory.usage_in_bytes"); p != "" {
		if s.MemoryUsage, err = readUint(p); err != nil {
			return s, fmt.Errorf("memory usage: %w", err)
		}
		limit, err := optional(readUint(r.file("memory", "memory.limit_in_bytes")))
		if err != nil {
			return s, err
		}
		if limit < unlimited {
			s.MemoryLimit = limit
		}
		stat, err := readKeyValues(r.file("memory", "memory.stat"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return s, err
		}
		s.MemoryInactiveFile = stat["total_inactive_file"]
	}
	if p := r.file("blkio", "blkio.io_service_bytes_recursive"); p != "" {
		rd, wr, n, err := readBlkioV1(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return s, err
		}
		if n == 0 {
			// No CFQ/BFQ accounting: the throttle policy counts for every scheduler.
			rd, wr, _, err = readBlkioV1(r.file("blkio", "blkio.throttle.io_service_bytes_recursive"))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return s, err
			}
		}
		s.BlkRead, s.BlkWrite = rd, wr
	}
	if p := r.file("pids", "pids.current"); p != "" {
		if s.Pids, err = optional(readUint(p)); err != nil {
			return s, err
		}
		if s.PidsLimit, err = optional(readUint(r.file("pids", "pids.max"))); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Procs implements cgroupReader, preferring the pids controller (every process is in it).
func (r *cgroupV1Reader) Procs() ([]int, error) {
	for _, ctrl := range []string{"pids", "memory", "cpuacct", "blkio"} {
		if p := r.file(ctrl, "cgroup.procs"); p != "" {
			procs, err := readProcs(p)
			if err == nil {
				return procs, nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	return nil, fmt.Errorf("cgroup of the container not found: %w", os.ErrNotExist)
}

// readBlkioV1 sums a blkio *_recursive file ("MAJ:MIN Read N" lines, "Total N" last) into bytes
// read and written; n counts the device lines seen.
func readBlkioV1(path string) (rd, wr uint64, n int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		v, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil {
			continue
		}
		n++
		switch fields[1] {
		case "Read":
			rd += v
		case "Write":
			wr += v
		}
	}
	return rd, wr, n, sc.Err()
}
