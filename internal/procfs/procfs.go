// Package procfs reads the few /proc facts berth needs to tell a live process from a reused PID.
package procfs

import (
	"bytes"
	"strconv"

	"golang.org/x/sys/unix"
)

// StartTime returns the start time of pid (field 22 of /proc/PID/stat, in clock ticks since
// boot), or 0 when the process does not exist.
func StartTime(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	// Plain system calls: os.Open would also register the descriptor with the poller (ps does
	// this for every running container).
	var buf [512]byte
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	n, _ := unix.Read(fd, buf[:])
	unix.Close(fd)
	if n < 0 {
		return 0
	}
	data := buf[:n]
	// The command name (field 2) is in parentheses and may hold spaces: skip past the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	fields := bytes.Fields(data[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0
	}
	if fields[0][0] == 'Z' || fields[0][0] == 'X' {
		return 0 // a zombie has exited already
	}
	v, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0
	}
	return v
}
