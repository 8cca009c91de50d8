package runtime

import (
	"os"
	"strings"
	"sync"
)

// systemdDriver tells whether containers' cgroups are managed through systemd: only where systemd
// is PID 1 (as Docker and runc decide), never on hosts like these dev VMs where it is not.
var systemdDriver = sync.OnceValue(func() bool {
	if fi, err := os.Lstat("/run/systemd/system"); err != nil || !fi.IsDir() {
		return false
	}
	comm, err := os.ReadFile("/proc/1/comm")
	return err == nil && strings.TrimSpace(string(comm)) == "systemd"
})

// CgroupDriver names the cgroup driver in use, as `info` prints it.
func CgroupDriver() string {
	if systemdDriver() {
		return "systemd"
	}
	return "cgroupfs"
}

// cgroupsPath is the cgroup path handed to libcontainer: an absolute cgroupfs path, or systemd's
// "slice:prefix:name" form, which makes a transient unit berth-<id>.scope in system.slice.
func cgroupsPath(id string) string {
	if systemdDriver() {
		return "system.slice:berth:" + id
	}
	return "/berth/" + id
}

// cgroupRel is the container's cgroup relative to a hierarchy's root ("/berth/<id>", or
// "/system.slice/berth-<id>.scope" under systemd).
func cgroupRel(id string) string {
	if systemdDriver() {
		return "/system.slice/berth-" + id + ".scope"
	}
	return "/berth/" + id
}
