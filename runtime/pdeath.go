package runtime

import (
	"os"

	"golang.org/x/sys/unix"
)

// ArmInitParentDeath makes the container's init die with its monitor. The binary calls it first
// thing when libcontainer re-executes it as "berth init", before libcontainer.Init.
//
// libcontainer applies Config.ParentDeathSignal to the first process it starts (nsexec's stage 0)
// only: the container's init is a grandchild made with CLONE_PARENT, and the kernel clears the
// parent-death signal on fork, so without this a container outlived a monitor killed with -9
// until the next berth command reconciled it. Here, in the init itself, the parent is the monitor
// (CLONE_PARENT) — precisely the monitor's thread that started it, which is why MonitorMain locks
// its goroutine to its thread for good — and libcontainer's standard init keeps the signal across
// its credential changes (it reads it back and restores it). exec'd processes ("setns" inits) are left alone: a
// detached exec must outlive the CLI that started it.
func ArmInitParentDeath() {
	if os.Getenv("_LIBCONTAINER_INITTYPE") != "standard" {
		return
	}
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
}
