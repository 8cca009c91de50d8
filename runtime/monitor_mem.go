package runtime

import (
	"runtime/debug"
	"time"

	"github.com/berth-project/berth/internal/trace"
)

// shrinkDelay is how long after the container's start the monitor gives its start-up heap back.
const shrinkDelay = 100 * time.Millisecond

// shrinkMonitor hands the Go heap left over from building and starting the container back to
// the kernel, so that an idle monitor keeps only what waiting needs.
func shrinkMonitor() {
	debug.SetGCPercent(25)
	debug.FreeOSMemory()
	trace.Mark("heap freed")
}
