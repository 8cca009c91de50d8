// Package idlemon is a container's monitor while the container just runs: a loop in C, entered
// from a C constructor before the Go runtime starts, so that a monitor waiting for a long-lived
// container holds ~1 MB instead of the ~4 MB (2.6 MB of it private) of a Go process.
//
// Once a started container has run for a moment with nothing attached, no stdin and no
// terminal, the Go monitor (runtime.MonitorMain) executes berth again as
// `berth __berth-idle ROOT RUNROOT ID`, from the shared copy of the binary on the runroot's
// tmpfs when there is one, handing over in BERTH_IDLE the container's process ID and the
// descriptors of its stdout and stderr pipes, of the attach socket and of the json log. The
// process stays the container's parent (the same process, the same thread), so the init's
// parent-death signal and the exit status stay with it. The loop copies the container's output
// into the json log exactly as the Go monitor does (lines, 16 KB pieces, encoding/json's
// escaping, RFC 3339 times) and to attach clients (the same frames), accepts new clients, and
// waits on a pidfd for the container's process. When it exits, the loop reads what is left on
// the pipes (2 s at most), then executes berth again as `berth __berth-monitor-exited ROOT
// RUNROOT ID` with the exit code and time, the attach socket and the attached clients in
// BERTH_EXITED: the Go monitor records the exit and applies the restart policy or --rm
// (runtime.MonitorExited). Importing the package is all there is to it.
package idlemon

import "C"
