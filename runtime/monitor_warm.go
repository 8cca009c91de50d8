package runtime

import (
	"encoding/json"

	"github.com/berth-project/berth/internal/trace"
	"github.com/berth-project/berth/network"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// warmWhileWaiting fills encoding/json's per-type caches for what a start encodes and decodes
// (the container's record and state, the report to the CLI, libcontainer's state with the
// container's config, which libcontainer also sends to the container's init, a network with its
// leases) while the CLI has
// not given its order on descriptor fd yet. A type's first use costs reflection over all its
// fields, nested ones included (~1-2 ms for these on a small VM); a monitor started with the CLI
// (cmd/berth/internal/earlymon) waits several milliseconds for its order, so the cost is paid
// there instead of on the way to the container's start. It stops as soon as the order is there.
func warmWhileWaiting(fd int) {
	for _, v := range []any{&Container{}, &syncMsg{State: &State{}}, &libcontainer.State{}, &network.Network{}} {
		if readable(fd) {
			return
		}
		json.Marshal(v)
	}
	trace.Mark("monitor warmed")
}

// readable tells whether fd has something to read (or is closed, or not open at all).
func readable(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err != nil || n > 0
}
