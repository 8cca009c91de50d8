// Package trace writes phase timestamps for performance work. With BERTH_TRACE=FILE in the
// environment, Mark appends "PID MS PHASE" lines to FILE, MS being CLOCK_MONOTONIC in
// milliseconds, so that the lines of the CLI, the monitor and the container's init can be
// merged into one timeline. Without it Mark costs one branch.
package trace

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Env is the variable that turns tracing on; its value is the file to append to.
const Env = "BERTH_TRACE"

var fd = -1

func init() {
	if p := os.Getenv(Env); p != "" {
		if f, err := unix.Open(p, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o644); err == nil {
			fd = f
		}
	}
}

// On tells whether tracing is on.
func On() bool { return fd >= 0 }

// Mark records that this process reached phase now.
func Mark(phase string) {
	if fd < 0 {
		return
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	b := strconv.AppendInt(nil, int64(os.Getpid()), 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, float64(ts.Nano())/1e6, 'f', 3, 64)
	b = append(b, ' ')
	b = append(b, phase...)
	b = append(b, '\n')
	unix.Write(fd, b)
}
