package harness

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-project/berth/network"
	"golang.org/x/sys/unix"
)

// cleanup runs when the test ends: background commands, containers (berth rm -f first, then
// SIGKILL by PID for whatever is left), mounts, cgroups, directories. It runs once.
func (e *Env) cleanup() {
	e.once.Do(e.doCleanup)
	liveMu.Lock()
	delete(liveEnvs, e)
	liveMu.Unlock()
}

func (e *Env) doCleanup() {
	e.mu.Lock()
	procs, ptys := e.procs, e.ptys
	e.procs, e.ptys = nil, nil
	e.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	for _, p := range ptys {
		p.Kill()
	}

	ids := e.containerIDs()
	if len(ids) > 0 && !e.emergency.Load() && e.T.Failed() {
		// What the containers were doing, to debug the failure.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ := e.Command(ctx, "ps", "-a", "--no-trunc").CombinedOutput()
		cancel()
		e.logf("harness: containers at the end of the failed test:\n%s", out)
	}
	if len(ids) > 0 && !e.emergency.Load() { // in an emergency there is no time: kill below
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := e.Command(ctx, append([]string{"rm", "-f", "-v"}, ids...)...)
		_ = cmd.Run()
		cancel()
	}

	e.killLeftovers(ids)
	removeCgroups(ids)
	if err := UnmountUnder(e.Root, e.RunRoot); err != nil {
		e.logf("harness cleanup: %v", err)
	}
	_, statErr := os.Stat(filepath.Join(e.Root, "networks"))
	hadNetworks := statErr == nil
	for _, d := range []string{e.Root, e.RunRoot} {
		if err := os.RemoveAll(d); err != nil {
			e.logf("harness cleanup: removing %s: %v", d, err)
		}
	}
	if hadNetworks {
		// The bridges (and their nftables rules) of this root's networks, now that the root is
		// gone: berth tags each bridge with its store, and collects those of vanished stores.
		// CollectOrphanBridges holds berth's subnet lock, so that a bridge another test is
		// creating (before its store records it) is not taken for an orphan.
		if err := network.CollectOrphanBridges(); err != nil {
			e.logf("harness cleanup: %v", err)
		}
	}
}

// containerIDs lists the container directories of e's root.
func (e *Env) containerIDs() []string {
	ents, err := os.ReadDir(filepath.Join(e.Root, "containers"))
	if err != nil {
		return nil
	}
	var ids []string
	for _, ent := range ents {
		if ent.IsDir() {
			ids = append(ids, ent.Name())
		}
	}
	return ids
}

// LeftoverPIDs returns the live processes that belong to e: berth processes (monitors, stuck
// commands) whose command line or environment names e's root or runroot, the processes in the
// cgroups of e's containers, and all their descendants.
func (e *Env) LeftoverPIDs() []int {
	return e.leftoverPIDs(e.containerIDs())
}

func (e *Env) leftoverPIDs(ids []string) []int {
	self := os.Getpid()
	found := map[int]bool{}
	procs := listProcs()
	for pid := range procs {
		if pid != self && e.ownsProcess(pid) {
			found[pid] = true
		}
	}
	for _, id := range ids {
		for _, dir := range cgroupDirs(id) {
			for _, pid := range readPIDs(filepath.Join(dir, "cgroup.procs")) {
				found[pid] = true
			}
		}
	}
	// Descendants: repeat until no new child appears.
	for changed := true; changed; {
		changed = false
		for pid, ppid := range procs {
			if found[ppid] && !found[pid] && pid != self {
				found[pid] = true
				changed = true
			}
		}
	}
	var out []int
	for pid := range found {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// ownsProcess reports whether process pid runs for e: its environment sets BERTH_ROOT or
// BERTH_RUNROOT to e's directories, or an argument is one of them or a path under them. Other
// tests' directories may share a prefix with e's, so only whole values count.
func (e *Env) ownsProcess(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	if b, err := os.ReadFile(dir + "environ"); err == nil {
		for _, kv := range bytes.Split(b, []byte{0}) {
			if string(kv) == "BERTH_ROOT="+e.Root || string(kv) == "BERTH_RUNROOT="+e.RunRoot {
				return true
			}
		}
	}
	if b, err := os.ReadFile(dir + "cmdline"); err == nil {
		for _, a := range strings.Split(string(b), "\x00") {
			a = strings.TrimPrefix(strings.TrimPrefix(a, "--root="), "--runroot=")
			for _, d := range []string{e.Root, e.RunRoot} {
				if a == d || strings.HasPrefix(a, d+"/") {
					return true
				}
			}
		}
	}
	return false
}

// killLeftovers thaws the containers' freezer cgroups and SIGKILLs every leftover process, then
// waits a little for them to go.
func (e *Env) killLeftovers(ids []string) {
	for _, id := range ids {
		for _, dir := range cgroupDirs(id) {
			_ = os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0o644)
			_ = os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0o644)
		}
	}
	for round := 0; round < 50; round++ {
		pids := e.leftoverPIDs(ids)
		if len(pids) == 0 {
			return
		}
		if round == 0 {
			e.logf("harness cleanup: killing leftover processes %v", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.logf("harness cleanup: processes still alive: %v", e.leftoverPIDs(ids))
}

// listProcs maps every live (non-zombie) PID to its parent PID.
func listProcs() map[int]int {
	out := map[int]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		out[pid] = ppid
	}
	return out
}

func readPIDs(path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// CgroupDirs lists the cgroup directories that exist for container id, in every hierarchy
// (v1 controllers and v2), for the cgroupfs ("/berth/<id>") and systemd ("berth-<id>.scope")
// layouts.
func CgroupDirs(id string) []string { return cgroupDirs(id) }

func cgroupDirs(id string) []string {
	var out []string
	for _, pat := range []string{
		"/sys/fs/cgroup/berth/" + id,
		"/sys/fs/cgroup/*/berth/" + id,
		"/sys/fs/cgroup/system.slice/berth-" + id + ".scope",
		"/sys/fs/cgroup/*/system.slice/berth-" + id + ".scope",
	} {
		m, _ := filepath.Glob(pat)
		out = append(out, m...)
	}
	return out
}

// removeCgroups removes the (now empty) cgroups of ids, children first.
func removeCgroups(ids []string) {
	for _, id := range ids {
		for _, dir := range cgroupDirs(id) {
			var dirs []string
			_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 0; i-- {
				_ = unix.Rmdir(dirs[i])
			}
		}
	}
}
