// Package lcinit hands a process that libcontainer re-executed as "berth init" (a container's
// init, or an exec's) to libcontainer.Init from a package initialiser, before the initialisers of
// the packages that only the rest of berth needs.
//
// Go runs package initialisers in dependency order, and among the packages ready at each step
// the first by import path: this package imports only libcontainer and the standard library and
// sorts before almost every other package, so it runs as soon as libcontainer is initialised,
// and libcontainer.Init never returns (it executes the container's process). What is left out —
// berth's runtime and image packages, cobra, net/http and go-containerregistry's remote, 13 of
// ~160 packages — costs the init nothing: only ~0.3 ms of the ~7 ms the initialisers take on a
// small VM, since libcontainer itself needs most of the rest. The command only imports it.
package lcinit

import (
	"os"
	"runtime/debug"

	"github.com/berth-project/berth/internal/procrole"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

func init() {
	// libcontainer re-executes berth as "berth init" to set up a container's process; its
	// environment carries the pipes. Only then is "init" libcontainer's (a user may name a
	// container "init").
	if procrole.LibcontainerInit(os.Args, os.Getenv("_LIBCONTAINER_INITPIPE")) {
		// (internal/heapwarm has turned transparent huge pages back on, which the monitor
		// runs without.)
		armParentDeath()
		// The init lives until it execs the container's process: collecting its garbage would
		// cost more than the few megabytes it allocates.
		debug.SetGCPercent(-1)
		libcontainer.Init()
	}
}

// armParentDeath makes the container's init die with its monitor.
//
// libcontainer applies Config.ParentDeathSignal to the first process it starts (nsexec's stage 0)
// only: the container's init is a grandchild made with CLONE_PARENT, and the kernel clears the
// parent-death signal on fork, so without this a container outlived a monitor killed with -9
// until the next berth command reconciled it. Here, in the init itself, the parent is the monitor
// (CLONE_PARENT) — precisely the monitor's thread that started it, which is why
// runtime.MonitorMain locks its goroutine to its thread for good — and libcontainer's standard
// init keeps the signal across its credential changes (it reads it back and restores it). exec'd
// processes ("setns" inits) are left alone: a detached exec must outlive the CLI that started it.
func armParentDeath() {
	if os.Getenv("_LIBCONTAINER_INITTYPE") != "standard" {
		return
	}
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
}
