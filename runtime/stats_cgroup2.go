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

// cgroupV2Reader reads a container's counters from its folder in the unified hierarchy.
type cgroupV2Reader struct {
	dir string
}

// Read implements cgroupReader.
func (r *cgroupV2Reader) Read() (CgroupStats, error) {
	var s CgroupStats
	if _, err := os.Stat(r.dir); err != nil {
		return s, fmt.Errorf("cgroup of the container: %w", err)
	}
	cpu, err := readKeyValues(filepath.Join(r.dir, "cpu.stat"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	s.CPUUsage = cpu["usage_usec"] * 1000
	if s.MemoryUsage, err = optional(readUint(filepath.Join(r.dir, "memory.current"))); err != nil {
		return s, err
	}
	if s.MemoryLimit, err = optional(readUint(filepath.Join(r.dir, "memory.max"))); err != nil {
		return s, err
	}
	mem, err := readKeyValues(filepath.Join(r.dir, "memory.stat"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	s.MemoryInactiveFile = mem["inactive_file"]
	if s.BlkRead, s.BlkWrite, err = readIOStatV2(filepath.Join(r.dir, "io.stat")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	if s.Pids, err = optional(readUint(filepath.Join(r.dir, "pids.current"))); err != nil {
		return s, err
	}
	if s.PidsLimit, err = optional(readUint(filepath.Join(r.dir, "pids.max"))); err != nil {
		return s, err
	}
	return s, nil
}

// Procs implements cgroupReader.
func (r *cgroupV2Reader) Procs() ([]int, error) {
	return readProcs(filepath.Join(r.dir, "cgroup.procs"))
}

// readIOStatV2 sums rbytes and wbytes over the devices of an io.stat file
// ("MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N").
func readIOStatV2(path string) (rd, wr uint64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for _, kv := range fields[min(1, len(fields)):] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				rd += n
			case "wbytes":
				wr += n
			}
		}
	}
	return rd, wr, sc.Err()
}
