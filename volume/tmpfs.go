package volume

import (
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/mount"
	"golang.org/x/sys/unix"
)

// TmpfsMount turns --tmpfs options ("size=64m,mode=1777,exec") into mount(2) flags, filesystem
// data and a propagation, starting from Docker's defaults noexec,nosuid,nodev,rprivate; later
// options win ("exec" clears noexec). copyUp reports the "tmpcopyup" option.
func TmpfsMount(options string) (flags int, data string, propagation mount.Propagation, copyUp bool, err error) {
	if err := validateTmpfsOptions(options); err != nil {
		return 0, "", "", false, err
	}
	all := "noexec,nosuid,nodev"
	if options != "" {
		all += "," + options
	}
	propagation = DefaultPropagation
	var rest []string
	for _, o := range strings.Split(all, ",") {
		switch {
		case propagationModes[o]:
			propagation = mount.Propagation(o)
		case o == "tmpcopyup":
			copyUp = true
		case o == "notmpcopyup":
			copyUp = false
		case strings.HasPrefix(o, "size="):
			// Docker passes sizes like "64m" to the kernel as they are; the kernel accepts
			// k/m/g/% but not "64MB", so normalise unit forms it would refuse.
			rest = append(rest, "size="+normaliseSize(strings.TrimPrefix(o, "size=")))
		default:
			rest = append(rest, o)
		}
	}
	f, d, err := parseMountOptions(strings.Join(rest, ","))
	if err != nil {
		return 0, "", "", false, err
	}
	return int(f), d, propagation, copyUp, nil
}

// TmpfsOptionsString renders --mount tmpfs options as mount data ("size=N,mode=0755").
func TmpfsOptionsString(o *mount.TmpfsOptions) string {
	if o == nil {
		return ""
	}
	var out []string
	if o.SizeBytes > 0 {
		out = append(out, fmt.Sprintf("size=%d", o.SizeBytes))
	}
	if o.Mode != 0 {
		out = append(out, fmt.Sprintf("mode=%o", uint32(o.Mode)))
	}
	return strings.Join(out, ",")
}

// normaliseSize converts "64MB"/"1g"/"512k"/"1048576" to a form tmpfs accepts (bytes or k/m/g/%).
func normaliseSize(v string) string {
	if strings.HasSuffix(v, "%") {
		return v
	}
	lower := strings.ToLower(v)
	for _, suf := range []string{"k", "m", "g"} {
		if strings.HasSuffix(lower, suf) && isDigits(lower[:len(lower)-1]) {
			return lower
		}
	}
	if isDigits(v) {
		return v
	}
	if n, err := ramInBytes(v); err == nil {
		return fmt.Sprintf("%d", n)
	}
	return v
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// PropagationFlag maps a propagation name to its mount(2) flags (rprivate when empty).
func PropagationFlag(p mount.Propagation) int {
	switch p {
	case mount.PropagationPrivate:
		return unix.MS_PRIVATE
	case mount.PropagationShared:
		return unix.MS_SHARED
	case mount.PropagationRShared:
		return unix.MS_SHARED | unix.MS_REC
	case mount.PropagationSlave:
		return unix.MS_SLAVE
	case mount.PropagationRSlave:
		return unix.MS_SLAVE | unix.MS_REC
	}
	return unix.MS_PRIVATE | unix.MS_REC
}
