package runtime

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"

	"github.com/berth-project/berth/internal/errdefs"
)

// UpdateOptions are `docker update`'s settings. Zero values leave a setting as it is; PidsLimit
// and RestartPolicy are set only when non-nil.
type UpdateOptions struct {
	Resources     container.Resources
	RestartPolicy *container.RestartPolicy
}

// cpuPeriod is the CFS period berth uses to express --cpus, as Docker does.
const cpuPeriod = 100000

// Update changes a container's resource limits and restart policy: the new values are saved in
// config.json (they apply at every later start) and, when the container runs, applied to its
// cgroup at once through libcontainer. Nothing is saved when the live update fails.
func (r *Runtime) Update(nameOrID string, opts UpdateOptions) error {
	if err := validateUpdate(&opts); err != nil {
		return err
	}
	c, l, err := r.getLocked(nameOrID)
	if err != nil {
		return err
	}
	defer l.Release()
	cannot := func(err error) error {
		var de *errdefs.Error
		if errors.As(err, &de) {
			return &errdefs.Error{Kind: de.Kind, Msg: fmt.Sprintf("Cannot update container %s: %s", c.ID, de.Msg)}
		}
		return fmt.Errorf("Cannot update container %s: %w", c.ID, err)
	}
	if c.State.Status == StatusRemoving || c.State.Status == StatusDead {
		return cannot(errdefs.Conflict(`container is marked for removal and cannot be "update"`))
	}
	hc := container.HostConfig{}
	if c.HostConfig != nil {
		hc = *c.HostConfig
	}
	if err := mergeUpdate(&hc, &opts); err != nil {
		return cannot(err)
	}
	if c.IsRunning() && c.State.Status != StatusRestarting && Alive(c.Pid, c.PidStart) {
		if err := applyResources(r.Layout, c.ID, &opts.Resources, &hc.Resources); err != nil {
			return cannot(err)
		}
	}
	c.Record.HostConfig = &hc
	if err := r.SaveRecord(&c.Record); err != nil {
		return err
	}
	r.event(&c.Record, "update", nil)
	return nil
}

// validateUpdate checks the request on its own, as Docker's daemon does before looking at the
// container.
func validateUpdate(o *UpdateOptions) error {
	res := &o.Resources
	if res.Memory != 0 && res.Memory < 6*1024*1024 {
		return errdefs.Invalid("Minimum memory limit allowed is 6MB")
	}
	if res.Memory > 0 && res.MemorySwap > 0 && res.MemorySwap < res.Memory {
		return errdefs.Invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if res.MemoryReservation != 0 && res.MemoryReservation < 6*1024*1024 {
		return errdefs.Invalid("Minimum memory reservation allowed is 6MB")
	}
	if res.Memory > 0 && res.MemoryReservation > 0 && res.Memory < res.MemoryReservation {
		return errdefs.Invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if res.NanoCPUs > 0 && (res.CPUPeriod > 0 || res.CPUQuota > 0) {
		return errdefs.Invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if n := int64(goruntime.NumCPU()); res.NanoCPUs < 0 || res.NanoCPUs > n*1e9 {
		return errdefs.Invalid(fmt.Sprintf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n))
	}
	if res.CPUPeriod != 0 && (res.CPUPeriod < 1000 || res.CPUPeriod > 1000000) {
		return errdefs.Invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	}
	if res.CPUQuota > 0 && res.CPUQuota < 1000 {
		return errdefs.Invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	if res.BlkioWeight > 0 && (res.BlkioWeight < 10 || res.BlkioWeight > 1000) {
		return errdefs.Invalid("Range of blkio weight is from 10 to 1000")
	}
	if res.CpusetCpus != "" {
		if _, err := parseCPUSet(res.CpusetCpus); err != nil {
			return errdefs.Invalid(fmt.Sprintf("Invalid value %s for cpuset cpus", res.CpusetCpus))
		}
	}
	if res.CpusetMems != "" {
		if _, err := parseCPUSet(res.CpusetMems); err != nil {
			return errdefs.Invalid(fmt.Sprintf("Invalid value %s for cpuset mems", res.CpusetMems))
		}
	}
	if o.RestartPolicy != nil && o.RestartPolicy.Name != "" {
		if err := container.ValidateRestartPolicy(*o.RestartPolicy); err != nil {
			return errdefs.Invalid(err.Error())
		}
	}
	return nil
}

// mergeUpdate folds the requested changes into hc with the rules of Docker's
// Container.UpdateContainer.
func mergeUpdate(hc *container.HostConfig, o *UpdateOptions) error {
	res, cur := &o.Resources, &hc.Resources
	switch {
	case res.NanoCPUs > 0 && cur.CPUPeriod > 0:
		return errdefs.Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
	case res.NanoCPUs > 0 && cur.CPUQuota > 0:
		return errdefs.Conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
	case res.CPUPeriod > 0 && cur.NanoCPUs > 0:
		return errdefs.Conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
	case res.CPUQuota > 0 && cur.NanoCPUs > 0:
		return errdefs.Conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
	}
	if res.BlkioWeight != 0 {
		cur.BlkioWeight = res.BlkioWeight
	}
	if res.CPUShares != 0 {
		cur.CPUShares = res.CPUShares
	}
	if res.NanoCPUs != 0 {
		cur.NanoCPUs = res.NanoCPUs
	}
	if res.CPUPeriod != 0 {
		cur.CPUPeriod = res.CPUPeriod
	}
	if res.CPUQuota != 0 {
		cur.CPUQuota = res.CPUQuota
	}
	if res.CpusetCpus != "" {
		cur.CpusetCpus = res.CpusetCpus
	}
	if res.CpusetMems != "" {
		cur.CpusetMems = res.CpusetMems
	}
	if res.Memory != 0 {
		// A swap limit already in place must stay above the memory limit.
		if cur.MemorySwap > 0 && res.Memory > cur.MemorySwap && res.MemorySwap == 0 {
			return errdefs.Conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
		}
		cur.Memory = res.Memory
	}
	if res.MemorySwap != 0 {
		if cur.Memory == 0 && res.MemorySwap > 0 {
			return errdefs.Invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
		}
		cur.MemorySwap = res.MemorySwap
	}
	if cur.Memory > 0 && cur.MemorySwap > 0 && cur.MemorySwap < cur.Memory {
		return errdefs.Invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if res.MemoryReservation != 0 {
		cur.MemoryReservation = res.MemoryReservation
	}
	if res.PidsLimit != nil {
		v := *res.PidsLimit
		cur.PidsLimit = &v
	}
	if o.RestartPolicy != nil && o.RestartPolicy.Name != "" {
		if hc.AutoRemove && !o.RestartPolicy.IsNone() {
			return errdefs.Conflict("Restart policy cannot be updated because AutoRemove is enabled for the container")
		}
		hc.RestartPolicy = *o.RestartPolicy
	}
	return nil
}

// applyResources writes the changed limits to the running container's cgroup through
// libcontainer. want holds what was asked (to know which settings change), merged the
// container's resulting resources.
func applyResources(l Layout, id string, want, merged *container.Resources) error {
	lc, err := libcontainer.Load(l.RuntimeDir(), id)
	if err != nil {
		return fmt.Errorf("load container: %w", err)
	}
	cfg := lc.Config()
	if cfg.Cgroups == nil || cfg.Cgroups.Resources == nil {
		return errors.New("container has no cgroup configuration")
	}
	res := *cfg.Cgroups.Resources
	updateResources(&res, want, merged, cgroup2(), swapAccounting())
	cg := *cfg.Cgroups
	cg.Resources = &res
	cfg.Cgroups = &cg
	return lc.Set(cfg)
}

// updateResources copies the settings named in want, with their merged values, into a
// libcontainer resource set (Docker's meanings: MemorySwap is memory plus swap, -1 unlimited;
// a pids limit of 0 or less is unlimited; --cpus is a CFS quota over a 100 ms period).
func updateResources(res *cgroups.Resources, want, merged *container.Resources, v2, swap bool) {
	if want.Memory != 0 {
		res.Memory = merged.Memory
	}
	if swap && (want.MemorySwap != 0 || want.Memory != 0) {
		switch {
		case merged.MemorySwap != 0:
			res.MemorySwap = merged.MemorySwap
		case merged.Memory > 0:
			// Docker's default swap limit: as much swap as memory.
			res.MemorySwap = merged.Memory * 2
		}
	}
	if want.MemoryReservation != 0 {
		res.MemoryReservation = merged.MemoryReservation
	}
	if want.CPUShares != 0 {
		res.CpuShares = uint64(merged.CPUShares)
		if v2 {
			res.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(res.CpuShares)
		}
	}
	if want.NanoCPUs != 0 {
		res.CpuPeriod = cpuPeriod
		res.CpuQuota = merged.NanoCPUs * cpuPeriod / 1e9
	}
	if want.CPUPeriod != 0 {
		res.CpuPeriod = uint64(merged.CPUPeriod)
	}
	if want.CPUQuota != 0 {
		res.CpuQuota = merged.CPUQuota
	}
	if want.CpusetCpus != "" {
		res.CpusetCpus = merged.CpusetCpus
	}
	if want.CpusetMems != "" {
		res.CpusetMems = merged.CpusetMems
	}
	if want.BlkioWeight != 0 {
		res.BlkioWeight = merged.BlkioWeight
	}
	if want.PidsLimit != nil {
		v := int64(-1)
		if merged.PidsLimit != nil && *merged.PidsLimit > 0 {
			v = *merged.PidsLimit
		}
		res.PidsLimit = &v
	}
}

// parseCPUSet parses a cpuset list ("0-2,4") into its members.
func parseCPUSet(s string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("invalid cpuset %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("invalid cpuset %q", s)
			}
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}
