package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/berth-project/berth/internal/trace"
	"golang.org/x/sys/unix"
)

// PendingMonitorArg is argv[2] of a monitor started before its CLI knew the container
// (`berth __berth-monitor --pending ROOM`, see cmd/berth/internal/earlymon): it reads its
// arguments from descriptor 4 (AwaitMonitorArgs) before its orders.
const PendingMonitorArg = "--pending"

// maxMonitorArgs bounds the arguments message: two paths and an ID.
const maxMonitorArgs = 3 * unix.PathMax

// PendingMonitor tells whether a monitor's arguments (after MonitorArg) are a pending monitor's.
func PendingMonitor(args []string) bool {
	return len(args) > 0 && args[0] == PendingMonitorArg
}

// encodeMonitorArgs is the message that gives a pending monitor its arguments: their length
// (4 bytes, little endian), then ROOT, RUNROOT and ID separated by NULs.
func encodeMonitorArgs(root, runRoot, id string) ([]byte, error) {
	body := root + "\x00" + runRoot + "\x00" + id
	if root == "" || runRoot == "" || id == "" || len(body) > maxMonitorArgs || strings.Count(body, "\x00") != 2 {
		return nil, fmt.Errorf("monitor arguments: bad root %q, runroot %q or ID %q", root, runRoot, id)
	}
	msg := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	return append(msg, body...), nil
}

// decodeMonitorArgs reads the message of encodeMonitorArgs with read, which returns what one
// read(2) would.
func decodeMonitorArgs(read func([]byte) (int, error)) ([]string, error) {
	full := func(b []byte) error {
		for n := 0; n < len(b); {
			k, err := read(b[n:])
			if err != nil {
				return err
			}
			if k == 0 {
				return errors.New("end of the arguments pipe")
			}
			n += k
		}
		return nil
	}
	var head [4]byte
	if err := full(head[:]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(head[:])
	if size == 0 || size > maxMonitorArgs {
		return nil, fmt.Errorf("monitor arguments of %d bytes", size)
	}
	body := make([]byte, size)
	if err := full(body); err != nil {
		return nil, err
	}
	args := strings.Split(string(body), "\x00")
	if len(args) != 3 || args[0] == "" || args[1] == "" || args[2] == "" {
		return nil, fmt.Errorf("monitor arguments %q", body)
	}
	return args, nil
}

// AwaitMonitorArgs reads a pending monitor's ROOT, RUNROOT and ID from descriptor 4. ok is false
// when the CLI closed the pipe without sending them: it does not need this monitor.
func AwaitMonitorArgs() (args []string, ok bool) {
	args, err := decodeMonitorArgs(func(b []byte) (int, error) {
		for {
			n, err := unix.Read(4, b)
			if err != unix.EINTR {
				return n, err
			}
		}
	})
	return args, err == nil
}

// AdoptMonitor takes over a monitor process started before the CLI knew the container (pid,
// with sync its reports and orders its descriptor 4) for container id, which is yet to be
// created: it is used as PrestartMonitor's. On error the process is sent away.
func (r *Runtime) AdoptMonitor(pid int, sync, orders *os.File, id string) (*Monitor, error) {
	proc, err := os.FindProcess(pid)
	if err != nil {
		sync.Close()
		orders.Close()
		return nil, fmt.Errorf("adopt monitor: %w", err)
	}
	m := &Monitor{proc: proc, wait: func() { proc.Wait() }, syncR: sync, goW: orders}
	msg, err := encodeMonitorArgs(r.Layout.Root, r.Layout.RunRoot, id)
	if err == nil {
		_, err = orders.Write(msg)
	}
	if err != nil {
		m.Abort()
		return nil, fmt.Errorf("adopt monitor: %w", err)
	}
	trace.Mark("monitor adopted")
	return m, nil
}
