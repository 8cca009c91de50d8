package harness

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MountsUnder returns the mount points at or under any of dirs, in the order they appear in
// /proc/self/mountinfo (oldest first).
func MountsUnder(dirs ...string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		for _, d := range dirs {
			d = filepath.Clean(d)
			if mp == d || strings.HasPrefix(mp, d+"/") {
				out = append(out, mp)
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return out, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// UnmountUnder lazily unmounts everything at or under dirs, newest mount first, until nothing
// is left (or it stops making progress).
func UnmountUnder(dirs ...string) error {
	for pass := 0; pass < 10; pass++ {
		mps, err := MountsUnder(dirs...)
		if err != nil {
			return err
		}
		if len(mps) == 0 {
			return nil
		}
		for i := len(mps) - 1; i >= 0; i-- {
			_ = unix.Unmount(mps[i], unix.MNT_DETACH)
		}
	}
	mps, err := MountsUnder(dirs...)
	if err != nil {
		return err
	}
	if len(mps) > 0 {
		return fmt.Errorf("still mounted: %v", mps)
	}
	return nil
}

// Mounts returns the mount points under e's root and runroot.
func (e *Env) Mounts() []string {
	e.T.Helper()
	mps, err := MountsUnder(e.Root, e.RunRoot)
	if err != nil {
		e.T.Fatalf("harness: %v", err)
	}
	if e.tmpfsRunRoot.Load() { // the runroot's own tmpfs (MountTmpfsRunRoot) is not a leak
		mps = slices.DeleteFunc(mps, func(mp string) bool { return mp == filepath.Clean(e.RunRoot) })
	}
	return mps
}

// MountTmpfsRunRoot puts e's runroot on a tmpfs of its own, as /run is on most hosts; call it
// before the first berth command. Cleanup unmounts it with everything else under the runroot.
func (e *Env) MountTmpfsRunRoot() {
	e.T.Helper()
	if err := unix.Mount("tmpfs", e.RunRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0711"); err != nil {
		e.T.Fatalf("harness: tmpfs on %s: %v", e.RunRoot, err)
	}
	e.tmpfsRunRoot.Store(true)
}

// CheckNoLeaks fails the test if anything of e's containers is still there: mounts under the
// root or runroot, or live processes (monitors, container processes).
func (e *Env) CheckNoLeaks() {
	e.T.Helper()
	if mps := e.Mounts(); len(mps) > 0 {
		e.T.Errorf("leaked mounts: %v", mps)
	}
	// A foreground run returns once its container is cleaned up; its monitor exits a moment
	// later (as Docker's shim does).
	pids := e.LeftoverPIDs()
	for deadline := time.Now().Add(2 * time.Second); len(pids) > 0 && time.Now().Before(deadline); pids = e.LeftoverPIDs() {
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) > 0 {
		e.T.Errorf("leaked processes: %v", describePIDs(pids))
	}
}

func describePIDs(pids []int) []string {
	var out []string
	for _, pid := range pids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")))
	}
	return out
}

// Link is a network interface of the host's namespace.
type Link struct {
	Name   string
	Type   string // netlink's kind: "veth", "bridge", "device", ...
	Master string // the bridge it is enslaved to, if any
}

// Links lists the host's interfaces whose names start with prefix ("" for all).
func Links(prefix string) ([]Link, error) {
	// A dump interrupted by links coming and going meanwhile (containers of other tests) is
	// run again.
	all, err := netlink.LinkList()
	for i := 0; i < 5 && errors.Is(err, netlink.ErrDumpInterrupted); i++ {
		all, err = netlink.LinkList()
	}
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	byIndex := map[int]string{}
	for _, l := range all {
		byIndex[l.Attrs().Index] = l.Attrs().Name
	}
	var out []Link
	for _, l := range all {
		a := l.Attrs()
		if !strings.HasPrefix(a.Name, prefix) {
			continue
		}
		out = append(out, Link{Name: a.Name, Type: l.Type(), Master: byIndex[a.MasterIndex]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LinkNames lists the names of the host's interfaces of type kind ("veth", "bridge"; "" for
// any) whose names start with prefix. It fails the test on error.
func LinkNames(tb testing.TB, kind, prefix string) []string {
	tb.Helper()
	links, err := Links(prefix)
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	var out []string
	for _, l := range links {
		if kind == "" || l.Type == kind {
			out = append(out, l.Name)
		}
	}
	return out
}

// VethsOf lists the veth interfaces enslaved to bridge.
func VethsOf(tb testing.TB, bridge string) []string {
	tb.Helper()
	links, err := Links("")
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	var out []string
	for _, l := range links {
		if l.Type == "veth" && l.Master == bridge {
			out = append(out, l.Name)
		}
	}
	return out
}

// NftTables lists the host's nftables tables as "family name" ("inet berth"), using `nft list
// tables` (tests may shell out to check; berth never does).
func NftTables() ([]string, error) {
	out, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("nft list tables: %v: %s", err, out)
	}
	var tables []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "table "); ok {
			tables = append(tables, rest)
		}
	}
	return tables, nil
}

// NftTableExists reports whether table "family name" exists (e.g. "ip", "berth").
func NftTableExists(tb testing.TB, family, name string) bool {
	tb.Helper()
	tables, err := NftTables()
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	for _, t := range tables {
		if t == family+" "+name {
			return true
		}
	}
	return false
}

// NftTable returns `nft list table FAMILY NAME` (the table's ruleset), or "" if it is absent.
func NftTable(family, name string) string {
	out, err := exec.Command("nft", "list", "table", family, name).Output()
	if err != nil {
		return ""
	}
	return string(out)
}
