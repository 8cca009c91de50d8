// Package heapwarm backs the start of the Go heap with huge pages (MADV_COLLAPSE) as the process
// starts, instead of taking a page fault for each 4 KB page the package initialisers and the
// command touch next: the 2 MB region being filled and the next one. On this kind of host (a VM,
// where a fault costs ~13 µs) the CLI of a `berth run` took ~330 faults on its heap and
// libcontainer's init ~400, over two regions. That is ~1.5 ms less for a `berth ps` and ~6 ms
// less for a run or an exec, for up to 4 MB more RSS during the process's short life (an init's
// counts against the container's memory limit until it executes the container's process; where
// the limit leaves no room the collapse fails and nothing changes). Long-lived processes, a container's monitor and docker-init (a
// container's PID 1 with --init), keep small pages: their resident memory matters more.
//
// libcontainer's init inherits the monitor's transparent-huge-page switch, which is off
// (cmd/berth/internal/earlymon): the init turns it back on here, first thing, so that the
// collapse works and the container's processes get the host's policy, as under Docker, whose
// containers descend from a shim that leaves it alone.
//
// Without transparent huge pages (THP "never", Linux before 6.1) the call fails and nothing
// changes. Importing the package is all there is to it.
package heapwarm

import (
	"os"

	"github.com/berth-project/berth/internal/procrole"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const (
	prSetTHPDisable   = 41      // PR_SET_THP_DISABLE
	madvCollapse      = 25      // MADV_COLLAPSE, Linux 6.1
	madvPopulateWrite = 23      // MADV_POPULATE_WRITE, Linux 5.14
	hugePage          = 2 << 20 // the x86-64 and arm64 (4 KB pages) PMD size
)

var (
	// sink keeps the probe allocation from being optimised away.
	sink *[16]byte
	// collapseErr is what MADV_COLLAPSE said (0: the region is one huge page now).
	collapseErr syscall.Errno
)

func init() {
	if longLived(os.Args) {
		return
	}
	if procrole.LibcontainerInit(os.Args, os.Getenv("_LIBCONTAINER_INITPIPE")) {
		syscall.Syscall6(syscall.SYS_PRCTL, prSetTHPDisable, 0, 0, 0, 0, 0)
	}
	// The runtime allocates from the start of its heap mapping upwards, filling spans of each
	// size class as it goes: every region from the mapping's start to the one holding a new
	// allocation still has pages to fault in, and the next one is filled after them.
	sink = new([16]byte)
	frontier := uintptr(unsafe.Pointer(sink)) &^ (hugePage - 1)
	start, end := mappingOf(uintptr(unsafe.Pointer(sink)))
	if start == 0 {
		return
	}
	for r := start &^ (hugePage - 1); r <= frontier+hugePage && r+hugePage <= end; r += hugePage {
		if r < start {
			continue
		}
		if r > frontier {
			// A region without a single page cannot be collapsed: give it one first (the
			// zeros it holds are what Go expects of memory it has not used yet).
			syscall.Syscall(syscall.SYS_MADVISE, r, uintptr(os.Getpagesize()), madvPopulateWrite)
		}
		_, _, e := syscall.Syscall(syscall.SYS_MADVISE, r, hugePage, madvCollapse)
		if r == frontier {
			collapseErr = e
		}
	}
}

// mappingOf returns the bounds of this process's mapping that holds addr, from
// /proc/self/maps, or zeros.
func mappingOf(addr uintptr) (start, end uintptr) {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		r, _, _ := strings.Cut(l, " ")
		lo, hi, ok := strings.Cut(r, "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && uintptr(a) <= addr && addr < uintptr(b) {
			return uintptr(a), uintptr(b)
		}
	}
	return 0, 0
}

// longLived tells whether args are a monitor's (berth __berth-monitor ...) or docker-init's.
func longLived(args []string) bool {
	if len(args) == 0 {
		return false
	}
	return filepath.Base(args[0]) == "docker-init" || len(args) > 1 && strings.HasPrefix(args[1], "__berth-monitor")
}
