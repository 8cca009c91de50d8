package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/docker/docker/api/types/container"
)

// validateCPUs rejects, as Docker's daemon does at create, a --cpus beyond the host's CPUs and a
// --cpuset-cpus/--cpuset-mems naming CPUs or memory nodes the host does not have (libcontainer
// would only fail at start, with a cgroup write error).
func validateCPUs(hc *container.HostConfig) error {
	if n := int64(goruntime.NumCPU()); hc.NanoCPUs < 0 || hc.NanoCPUs > n*1e9 {
		return errdefs.Invalid(fmt.Sprintf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n))
	}
	if err := checkCpuset(hc.CpusetCpus, "cpus", "CPUs", cpusetAvailable("cpus", "/sys/devices/system/cpu/online")); err != nil {
		return err
	}
	return checkCpuset(hc.CpusetMems, "mems", "memory nodes", cpusetAvailable("mems", "/sys/devices/system/node/online"))
}

// checkCpuset checks that every number of list (Docker's "0-3,5" form) is in available (same
// form; "" when unknown, which accepts anything that parses).
func checkCpuset(list, kind, what, available string) error {
	if list == "" {
		return nil
	}
	want, err := parseUintList(list)
	if err != nil {
		return errdefs.Invalid(fmt.Sprintf("Invalid value %s for cpuset %s: %v", list, kind, err))
	}
	if available == "" {
		return nil
	}
	have, err := parseUintList(available)
	if err != nil {
		return nil
	}
	for n := range want {
		if !have[n] {
			return errdefs.Invalid(fmt.Sprintf("Requested %s are not available - requested %s, available: %s", what, list, available))
		}
	}
	return nil
}

// cpusetAvailable reads what the host offers containers: the root cpuset cgroup (v1, or v2's
// effective set), else the kernel's online list.
func cpusetAvailable(kind, online string) string {
	for _, p := range []string{"/sys/fs/cgroup/cpuset/cpuset." + kind, "/sys/fs/cgroup/cpuset." + kind + ".effective", online} {
		if data, err := os.ReadFile(p); err == nil {
			if s := strings.TrimSpace(string(data)); s != "" {
				return s
			}
		}
	}
	return ""
}

// parseUintList parses "0-3,5,7" into a set, as Docker's parsers.ParseUintList.
func parseUintList(val string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, r := range strings.Split(val, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("invalid format: %s", val)
		}
		if !isRange {
			out[a] = true
			continue
		}
		b, err := strconv.Atoi(hi)
		if err != nil || b < a {
			return nil, fmt.Errorf("invalid range format: %s", r)
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}
