package main

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/runtime"
)

// memBytesFlag is a size flag ("64m", "1g"), as docker/cli's opts.MemBytes; "-1" means unlimited
// where allowed.
type memBytesFlag int64

// String implements pflag.Value.
func (m *memBytesFlag) String() string {
	if *m == 0 {
		return ""
	}
	return units.BytesSize(float64(*m))
}

// Set implements pflag.Value.
func (m *memBytesFlag) Set(v string) error {
	if v == "-1" {
		*m = -1
		return nil
	}
	n, err := units.RAMInBytes(v)
	*m = memBytesFlag(n)
	return err
}

// Type implements pflag.Value.
func (m *memBytesFlag) Type() string { return "bytes" }

// nanoCPUsFlag is --cpus: a decimal number of CPUs, kept in billionths (docker/cli's NanoCPUs).
type nanoCPUsFlag int64

// String implements pflag.Value.
func (c *nanoCPUsFlag) String() string {
	if *c == 0 {
		return ""
	}
	return big.NewRat(int64(*c), 1e9).FloatString(3)
}

// Set implements pflag.Value.
func (c *nanoCPUsFlag) Set(v string) error {
	r, ok := new(big.Rat).SetString(v)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", v)
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return fmt.Errorf("value is too precise")
	}
	*c = nanoCPUsFlag(nano.Num().Int64())
	return nil
}

// Type implements pflag.Value.
func (c *nanoCPUsFlag) Type() string { return "decimal" }

type updateOptions struct {
	blkioWeight       uint16
	cpuPeriod         int64
	cpuQuota          int64
	cpuShares         int64
	cpus              nanoCPUsFlag
	cpusetCpus        string
	cpusetMems        string
	memory            memBytesFlag
	memoryReservation memBytesFlag
	memorySwap        memBytesFlag
	pidsLimit         int64
	restart           string
}

// newUpdateCommand is `update [OPTIONS] CONTAINER...`.
func newUpdateCommand(cli *CLI) *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			opts := runtime.UpdateOptions{Resources: container.Resources{
				BlkioWeight:       o.blkioWeight,
				CPUPeriod:         o.cpuPeriod,
				CPUQuota:          o.cpuQuota,
				CPUShares:         o.cpuShares,
				NanoCPUs:          int64(o.cpus),
				CpusetCpus:        o.cpusetCpus,
				CpusetMems:        o.cpusetMems,
				Memory:            int64(o.memory),
				MemoryReservation: int64(o.memoryReservation),
				MemorySwap:        int64(o.memorySwap),
			}}
			if o.pidsLimit != 0 {
				v := o.pidsLimit
				opts.Resources.PidsLimit = &v
			}
			if o.restart != "" {
				p, err := parseRestartPolicy(o.restart)
				if err != nil {
					return err
				}
				opts.RestartPolicy = &p
			}
			return forEachContainer(cli, args, func(rt *runtime.Runtime, name string) error {
				return rt.Update(name, opts)
			})
		},
	}
	f := cmd.Flags()
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Var(&o.cpus, "cpus", "Number of CPUs")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.VarP(&o.memory, "memory", "m", "Memory limit")
	f.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	f.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	f.StringVar(&o.restart, "restart", "", "Restart policy to apply when a container exits")
	return cmd
}
