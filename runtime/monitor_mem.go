package runtime

import "runtime/debug"

// shrinkMonitor hands the Go heap left over from building and starting the container back to
// the kernel, so that an idle monitor keeps only what waiting needs.
func shrinkMonitor() {
	debug.SetGCPercent(25)
	debug.FreeOSMemory()
}
