package runtime

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	units "github.com/docker/go-units"
	"github.com/moby/sys/user"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// execUser is the resolved identity of a container process.
type execUser struct {
	UID, GID int
	Sgids    []uint32
	Home     string
}

// resolveUser resolves -u (name, uid, uid:gid, name:group, …) and --group-add against the
// rootfs's /etc/passwd and /etc/group, as Docker does.
func resolveUser(rootfs, spec string, groupAdd []string) (execUser, error) {
	passwd, err := securejoin.SecureJoin(rootfs, "/etc/passwd")
	if err != nil {
		return execUser{}, err
	}
	group, err := securejoin.SecureJoin(rootfs, "/etc/group")
	if err != nil {
		return execUser{}, err
	}
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	u, err := user.GetExecUserPath(spec, defaults, passwd, group)
	if err != nil {
		return execUser{}, errdefs.Invalid(fmt.Sprintf("unable to find user %s: %s", spec, userErr(err)))
	}
	// As Docker (through containerd), the primary group is also a supplementary one.
	out := execUser{UID: u.Uid, GID: u.Gid, Home: u.Home, Sgids: []uint32{uint32(u.Gid)}}
	for _, g := range u.Sgids {
		if g != u.Gid {
			out.Sgids = append(out.Sgids, uint32(g))
		}
	}
	if len(groupAdd) > 0 {
		gids, err := user.GetAdditionalGroupsPath(groupAdd, group)
		if err != nil {
			return execUser{}, errdefs.Invalid(fmt.Sprintf("unable to find group: %v", err))
		}
		for _, g := range gids {
			out.Sgids = append(out.Sgids, uint32(g))
		}
	}
	return out, nil
}

func userErr(err error) string {
	switch {
	case errors.Is(err, user.ErrNoPasswdEntries):
		return "no matching entries in passwd file"
	case errors.Is(err, user.ErrNoGroupEntries):
		return "no matching entries in group file"
	}
	return err.Error()
}

// rlimitTypes maps --ulimit names to RLIMIT_* numbers.
var rlimitTypes = map[string]int{
	"core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
	"as": unix.RLIMIT_AS,
}

// rlimits converts --ulimit values. Without CAP_SYS_RESOURCE in the host's user namespace a limit
// above the host's hard limit would make the start fail, so limits are capped at it.
func rlimits(ulimits []*units.Ulimit) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	for _, u := range ulimits {
		t, ok := rlimitTypes[u.Name]
		if !ok {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid ulimit type: %s", u.Name))
		}
		soft, hard := uint64(u.Soft), uint64(u.Hard)
		if u.Soft < 0 {
			soft = unix.RLIM_INFINITY
		}
		if u.Hard < 0 {
			hard = unix.RLIM_INFINITY
		}
		var host unix.Rlimit
		if err := unix.Getrlimit(t, &host); err == nil && !hasSysResource() {
			if hard > host.Max {
				hard = host.Max
			}
			if soft > hard {
				soft = hard
			}
		}
		out = append(out, configs.Rlimit{Type: t, Hard: hard, Soft: soft})
	}
	return out, nil
}

// hasSysResource tells whether this process may raise hard limits (CAP_SYS_RESOURCE effective).
func hasSysResource() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &caps)
			return caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	return false
}
