// Command berth is a daemonless, Docker-compatible container runtime.
package main

import (
	"os"
	"path/filepath"
	"syscall"

	"github.com/berth-project/berth/cmd/berth/internal/earlymon"
	_ "github.com/berth-project/berth/cmd/berth/internal/idlemon" // a running container's monitor, in C
	_ "github.com/berth-project/berth/cmd/berth/internal/lcinit"  // libcontainer's init, before the other packages' initialisers
	_ "github.com/berth-project/berth/internal/heapwarm"          // the heap's first regions in huge pages (short-lived processes)
	_ "github.com/berth-project/berth/internal/seccompcache"      // serves libcontainer's seccomp programs from a cache
	"github.com/berth-project/berth/internal/trace"
	"github.com/berth-project/berth/runtime"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // runs before Go for libcontainer's init
)

func main() {
	// Hidden entry points, chosen before the command tree is built.
	switch {
	case len(os.Args) > 1 && os.Args[1] == runtime.MonitorArg:
		os.Exit(monitorMain(os.Args[2:]))
	case len(os.Args) > 1 && os.Args[1] == runtime.ExitedMonitorArg:
		os.Exit(runtime.MonitorExited(os.Args[2:]))
	case filepath.Base(os.Args[0]) == "docker-init" || len(os.Args) > 1 && os.Args[0] == runtime.InitPath:
		os.Exit(runtime.InitMain(os.Args[1:]))
	}
	trace.Mark("cli main")
	code := run(os.Args[1:])
	trace.Mark("cli exit")
	os.Exit(code)
}

// monitorMain runs a container's monitor. One started before its CLI knew the container (see
// earlymon) first learns its root, runroot and container ID from the CLI and shows them on its
// command line, where ps and berth's tests look for a store's processes.
func monitorMain(args []string) int {
	if runtime.PendingMonitor(args) {
		var ok bool
		if args, ok = runtime.AwaitMonitorArgs(); !ok {
			return 0 // the CLI did not need it
		}
		if !earlymon.Retitle(args) {
			// Too long for the room on its command line: show them the usual way. Descriptors
			// 3 and 4 stay open across exec.
			syscall.Exec("/proc/self/exe", append([]string{"berth", runtime.MonitorArg}, args...), os.Environ())
			return 125
		}
	}
	return runtime.MonitorMain(args)
}
