// Package earlymon starts a container's monitor before the CLI's Go runtime starts.
//
// `berth run` needs a monitor process (runtime.MonitorMain) for its container. The CLI used to
// start it once its own Go runtime, package initialisers and command tree were up (~15 ms
// after exec on a small VM), and the monitor then spent as long starting its own runtime, so
// the container waited for the second start after the CLI had created it. A C constructor in
// this package, run before the Go runtime, spawns the monitor as soon as the command line is
// `berth [global flags] run ...` or `berth container run ...`: both processes start their
// runtimes at the same time, on different CPUs.
//
// The monitor cannot be told its root, runroot and container ID yet (the CLI has not parsed
// its flags nor picked the ID), so it starts as `berth __berth-monitor --pending <room>` and
// reads them from its orders pipe (runtime.AwaitMonitorArgs), then writes them over its
// command line (Retitle), so that ps, and whoever looks for a store's processes, see
// `berth __berth-monitor ROOT RUNROOT ID` as for a monitor started from Go. A CLI that does not
// use it (it failed first, or the command was not a run after all) just exits: the monitor
// reads the end of its orders pipe and goes away. BERTH_NO_EARLY_MONITOR=1 in the environment
// turns the early start off.
package earlymon

/*
#include "earlymon.h"
*/
import "C"

import (
	"os"
	"unsafe"
)

// Monitor is the early monitor's process and the CLI's ends of its pipes.
type Monitor struct {
	Pid    int
	Sync   *os.File // its reports (the monitor's descriptor 3)
	Orders *os.File // its arguments, then its orders (the monitor's descriptor 4)
}

// Take hands over the monitor started before the Go runtime, once; ok is false when none was.
func Take() (m Monitor, ok bool) {
	if C.berth_early_pid <= 0 {
		return Monitor{}, false
	}
	m = Monitor{
		Pid:    int(C.berth_early_pid),
		Sync:   os.NewFile(uintptr(C.berth_early_sync), "monitor-sync"),
		Orders: os.NewFile(uintptr(C.berth_early_orders), "monitor-orders"),
	}
	C.berth_early_pid, C.berth_early_sync, C.berth_early_orders = -1, -1, -1
	return m, true
}

// Retitle writes args over a pending monitor's command line after argv[1] (NUL-separated, as
// the kernel shows arguments). It reports false, changing nothing, when they do not fit or this
// process is not a pending monitor.
func Retitle(args []string) bool {
	var b []byte
	for _, a := range args {
		b = append(append(b, a...), 0)
	}
	if len(b) == 0 {
		return false
	}
	return C.berth_early_retitle((*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))) == 0
}
