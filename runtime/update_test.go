package runtime

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/opencontainers/cgroups"
)

func i64(v int64) *int64 { return &v }

func TestValidateUpdate(t *testing.T) {
	bad := map[string]UpdateOptions{
		"Minimum memory limit allowed is 6MB":                 {Resources: container.Resources{Memory: 1 << 20}},
		"Minimum memoryswap limit should be larger":           {Resources: container.Resources{Memory: 64 << 20, MemorySwap: 32 << 20}},
		"Range of CPUs is from 0.01 to":                       {Resources: container.Resources{NanoCPUs: 1e15}},
		"Conflicting options: Nano CPUs and CPU Period":       {Resources: container.Resources{NanoCPUs: 1e9, CPUPeriod: 100000}},
		"Invalid value 3-1 for cpuset cpus":                   {Resources: container.Resources{CpusetCpus: "3-1"}},
		"Range of blkio weight is from 10 to 1000":            {Resources: container.Resources{BlkioWeight: 5}},
		"invalid restart policy":                              {RestartPolicy: &container.RestartPolicy{Name: "sometimes"}},
		"Minimum memory limit can not be less than memory re": {Resources: container.Resources{Memory: 16 << 20, MemoryReservation: 32 << 20}},
	}
	for want, o := range bad {
		err := validateUpdate(&o)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	good := []UpdateOptions{
		{Resources: container.Resources{Memory: 64 << 20, MemorySwap: -1}},
		{Resources: container.Resources{NanoCPUs: 5e8, CpusetCpus: "0", PidsLimit: i64(-1)}},
		{RestartPolicy: &container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
	}
	for _, o := range good {
		if err := validateUpdate(&o); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestMergeUpdate(t *testing.T) {
	hc := &container.HostConfig{Resources: container.Resources{Memory: 64 << 20, MemorySwap: 128 << 20, CPUShares: 512}}
	o := UpdateOptions{
		Resources:     container.Resources{Memory: 100 << 20, MemorySwap: 200 << 20, NanoCPUs: 5e8, PidsLimit: i64(50)},
		RestartPolicy: &container.RestartPolicy{Name: "always"},
	}
	if err := mergeUpdate(hc, &o); err != nil {
		t.Fatal(err)
	}
	r := hc.Resources
	if r.Memory != 100<<20 || r.MemorySwap != 200<<20 || r.CPUShares != 512 || r.NanoCPUs != 5e8 || *r.PidsLimit != 50 || hc.RestartPolicy.Name != "always" {
		t.Errorf("merged %+v restart %v", r, hc.RestartPolicy)
	}

	conflicts := []struct {
		hc   container.HostConfig
		o    UpdateOptions
		want string
	}{
		{container.HostConfig{Resources: container.Resources{Memory: 64 << 20, MemorySwap: 128 << 20}},
			UpdateOptions{Resources: container.Resources{Memory: 256 << 20}}, "Memory limit should be smaller than already set memoryswap limit"},
		{container.HostConfig{Resources: container.Resources{CPUPeriod: 50000}},
			UpdateOptions{Resources: container.Resources{NanoCPUs: 1e9}}, "Nano CPUs cannot be updated as CPU Period has already been set"},
		{container.HostConfig{Resources: container.Resources{NanoCPUs: 1e9}},
			UpdateOptions{Resources: container.Resources{CPUQuota: 50000}}, "CPU Quota cannot be updated as NanoCPUs has already been set"},
		{container.HostConfig{AutoRemove: true},
			UpdateOptions{RestartPolicy: &container.RestartPolicy{Name: "always"}}, "Restart policy cannot be updated because AutoRemove is enabled"},
		{container.HostConfig{},
			UpdateOptions{Resources: container.Resources{MemorySwap: 64 << 20}}, "You should always set the Memory limit when using Memoryswap limit"},
	}
	for _, tc := range conflicts {
		hc := tc.hc
		err := mergeUpdate(&hc, &tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	// Memory alone on a container without a swap limit is fine.
	hc = &container.HostConfig{}
	if err := mergeUpdate(hc, &UpdateOptions{Resources: container.Resources{Memory: 64 << 20}}); err != nil || hc.Memory != 64<<20 {
		t.Errorf("memory only: %v %d", err, hc.Memory)
	}
}

func TestUpdateResources(t *testing.T) {
	cases := []struct {
		name     string
		want     container.Resources
		merged   container.Resources
		v2, swap bool
		start    cgroups.Resources
		expect   cgroups.Resources
	}{
		{"memory with default swap", container.Resources{Memory: 64 << 20}, container.Resources{Memory: 64 << 20}, false, true,
			cgroups.Resources{CpuShares: 512}, cgroups.Resources{CpuShares: 512, Memory: 64 << 20, MemorySwap: 128 << 20}},
		{"memory without swap accounting", container.Resources{Memory: 64 << 20}, container.Resources{Memory: 64 << 20}, false, false,
			cgroups.Resources{}, cgroups.Resources{Memory: 64 << 20}},
		{"explicit swap", container.Resources{MemorySwap: -1}, container.Resources{Memory: 64 << 20, MemorySwap: -1}, false, true,
			cgroups.Resources{Memory: 64 << 20, MemorySwap: 128 << 20}, cgroups.Resources{Memory: 64 << 20, MemorySwap: -1}},
		{"cpus", container.Resources{NanoCPUs: 1.5e9}, container.Resources{NanoCPUs: 1.5e9}, false, true,
			cgroups.Resources{}, cgroups.Resources{CpuPeriod: 100000, CpuQuota: 150000}},
		{"shares on v2", container.Resources{CPUShares: 1024}, container.Resources{CPUShares: 1024}, true, true,
			cgroups.Resources{}, cgroups.Resources{CpuShares: 1024, CpuWeight: cgroups.ConvertCPUSharesToCgroupV2Value(1024)}},
		{"pids unlimited", container.Resources{PidsLimit: i64(-1)}, container.Resources{PidsLimit: i64(-1)}, false, true,
			cgroups.Resources{PidsLimit: i64(10)}, cgroups.Resources{PidsLimit: i64(-1)}},
		{"pids", container.Resources{PidsLimit: i64(20)}, container.Resources{PidsLimit: i64(20)}, false, true,
			cgroups.Resources{}, cgroups.Resources{PidsLimit: i64(20)}},
		{"cpuset", container.Resources{CpusetCpus: "0"}, container.Resources{CpusetCpus: "0"}, false, true,
			cgroups.Resources{CpusetCpus: "0-1"}, cgroups.Resources{CpusetCpus: "0"}},
	}
	for _, tc := range cases {
		got := tc.start
		updateResources(&got, &tc.want, &tc.merged, tc.v2, tc.swap)
		if !reflect.DeepEqual(got, tc.expect) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.expect)
		}
	}
}

func TestParseCPUSet(t *testing.T) {
	got, err := parseCPUSet("0-2,5")
	if err != nil || !reflect.DeepEqual(got, map[int]bool{0: true, 1: true, 2: true, 5: true}) {
		t.Errorf("got %v %v", got, err)
	}
	for _, bad := range []string{"", "a", "1-", "3-1", "1,,2", "-1"} {
		if _, err := parseCPUSet(bad); err == nil {
			t.Errorf("parseCPUSet(%q) succeeded", bad)
		}
	}
}

func TestUpdateStoppedContainerPersists(t *testing.T) {
	rt := newObserveRuntime(t)
	c := &Container{
		Record: Record{ID: strings.Repeat("e", 64), Name: "upd", Created: time.Now(),
			HostConfig: &container.HostConfig{Resources: container.Resources{CPUShares: 2}}},
		State: State{Status: StatusExited, StartedAt: time.Now(), FinishedAt: time.Now()},
	}
	addFakeContainer(t, rt, c)
	err := rt.Update(c.ID, UpdateOptions{
		Resources:     container.Resources{Memory: 32 << 20, PidsLimit: i64(10)},
		RestartPolicy: &container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := rt.load(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	hc := got.HostConfig
	if hc.Memory != 32<<20 || *hc.PidsLimit != 10 || hc.CPUShares != 2 || hc.RestartPolicy.Name != "on-failure" || hc.RestartPolicy.MaximumRetryCount != 2 {
		t.Errorf("saved %+v", hc)
	}
	// A rejected update leaves config.json as it was.
	if err := rt.Update(c.ID, UpdateOptions{Resources: container.Resources{MemorySwap: 16 << 20}}); err == nil {
		t.Error("swap below memory accepted")
	}
	again, _ := rt.load(c.ID)
	if again.HostConfig.MemorySwap != 0 {
		t.Errorf("rejected update saved: %+v", again.HostConfig.Resources)
	}
	if err := rt.Update("nosuch", UpdateOptions{Resources: container.Resources{CPUShares: 3}}); err == nil || err.Error() != "No such container: nosuch" {
		t.Errorf("missing container: %v", err)
	}
}
