package runtime

import (
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/events"
	dockerevents "github.com/docker/docker/api/types/events"
	"golang.org/x/sys/unix"
)

// event records a container event in the store's journal (see internal/events) with Docker's
// attributes: the container's labels, its image as it was asked for, its name, and extra.
func (r *Runtime) event(rec *Record, action string, extra map[string]string) {
	if rec == nil {
		return
	}
	attrs := make(map[string]string, 2+len(extra))
	if rec.Config != nil {
		for k, v := range rec.Config.Labels {
			attrs[k] = v
		}
		if rec.Config.Image != "" {
			attrs["image"] = rec.Config.Image
		}
	}
	attrs["name"] = rec.Name
	for k, v := range extra {
		attrs[k] = v
	}
	events.Record(r.Layout.RunRoot, events.Container, dockerevents.Action(action), rec.ID, attrs)
}

// killEvent records that sig was sent to the container (Docker's "kill", signal as a number).
func (r *Runtime) killEvent(rec *Record, sig unix.Signal) {
	r.event(rec, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
}

// execAction is Docker's action of an exec event: "exec_create: CMD ARGS" (with the space even
// when there are no arguments).
func execAction(prefix string, cmd []string) string {
	return prefix + ": " + cmd[0] + " " + strings.Join(cmd[1:], " ")
}

// dieEvents records a container's exit as Docker's daemon does: "oom" first when the kernel's
// OOM killer struck in its cgroup, then "die" with the exit code and how long the process ran
// (whole seconds).
func (r *Runtime) dieEvents(rec *Record, st *State, ranFor time.Duration) {
	if st.OOMKilled {
		r.event(rec, "oom", nil)
	}
	r.event(rec, "die", map[string]string{
		"exitCode":     strconv.Itoa(st.ExitCode),
		"execDuration": strconv.Itoa(int(ranFor.Seconds())),
	})
}

// execDieEvent records the end of an exec with its exit code ("exec_die", as Docker).
func (r *Runtime) execDieEvent(rec *Record, execAttrs map[string]string, code int) {
	r.event(rec, "exec_die", map[string]string{"execID": execAttrs["execID"], "exitCode": strconv.Itoa(code)})
}
