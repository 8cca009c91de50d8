// Command berth is a daemonless, Docker-compatible container runtime.
package main

import (
	"os"
	"path/filepath"
	"runtime/debug"

	_ "github.com/berth-project/berth/internal/seccompcache" // serves libcontainer's seccomp programs from a cache
	"github.com/berth-project/berth/internal/trace"
	"github.com/berth-project/berth/runtime"
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // runs before Go for libcontainer's init
)

func init() {
	// libcontainer re-executes berth as "berth init" to set up a container's process; its
	// environment carries the pipes. Only then is "init" libcontainer's (a user may name a
	// container "init").
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != "" {
		runtime.ArmInitParentDeath()
		// The init lives until it execs the container's process: collecting its garbage
		// would cost more than the few megabytes it allocates.
		debug.SetGCPercent(-1)
		libcontainer.Init()
	}
}

func main() {
	// Hidden entry points, chosen before the command tree is built.
	switch {
	case len(os.Args) > 1 && os.Args[1] == runtime.MonitorArg:
		os.Exit(runtime.MonitorMain(os.Args[2:]))
	case filepath.Base(os.Args[0]) == "docker-init" || len(os.Args) > 1 && os.Args[0] == runtime.InitPath:
		os.Exit(runtime.InitMain(os.Args[1:]))
	}
	trace.Mark("cli main")
	code := run(os.Args[1:])
	trace.Mark("cli exit")
	os.Exit(code)
}
