package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	rt "runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitPath is where --init's reaper is found inside the container.
const InitPath = initPath

// InitMain is --init's reaper: berth bind-mounted into the container as PID 1. It runs
// `-- CMD ARGS...`, forwards every signal it gets to CMD, reaps orphans and exits with CMD's
// status (128+signal when CMD was killed).
func InitMain(args []string) int {
	rt.GOMAXPROCS(1)
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "docker-init: no command given")
		return 1
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: exec %s: %v\n", args[0], err)
		return 127
	}
	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: false}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: exec %s: %v\n", args[0], err)
		if os.IsPermission(err) {
			return 126
		}
		return 127
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		s, ok := sig.(syscall.Signal)
		if !ok {
			continue
		}
		if s != unix.SIGCHLD {
			if s != unix.SIGURG {
				unix.Kill(child, s)
			}
			continue
		}
		// Reap everything that exited; stop when the main child is among them.
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err != nil || pid <= 0 {
				break
			}
			if pid == child {
				if ws.Signaled() {
					return 128 + int(ws.Signal())
				}
				return ws.ExitStatus()
			}
		}
	}
	return 0
}
