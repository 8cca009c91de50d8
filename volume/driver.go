package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-project/berth/internal/errdefs"
	"golang.org/x/sys/unix"
)

// The local driver's options, as Docker's: type and device go together, o needs device.
var (
	validDriverOpts     = map[string]bool{"type": true, "device": true, "o": true, "size": true}
	mandatoryDriverOpts = map[string][]string{"device": {"type"}, "type": {"device"}, "o": {"device"}}
)

// validateDriverOpts checks local-driver options (-o/--opt, --mount volume-opt=) with Docker's
// wording.
func validateDriverOpts(opts map[string]string) error {
	for k := range opts {
		if !validDriverOpts[k] {
			return errdefs.Invalid(fmt.Sprintf("invalid option: %q", k))
		}
	}
	for _, k := range []string{"device", "o", "type"} {
		if _, ok := opts[k]; !ok {
			continue
		}
		for _, need := range mandatoryDriverOpts[k] {
			if _, ok := opts[need]; !ok {
				return errdefs.Invalid(fmt.Sprintf("missing required option: %q", need))
			}
		}
	}
	if _, ok := opts["size"]; ok {
		return errdefs.Invalid("quota size requested but no quota support")
	}
	if isBindOpts(opts) {
		dev := opts["device"]
		if !filepath.IsAbs(dev) {
			return errdefs.Invalid(fmt.Sprintf("bind device %q must be an absolute path", dev))
		}
		if filepath.Clean(dev) == "/" {
			return errdefs.Invalid("bind device \"/\" is not allowed")
		}
	}
	if _, _, err := parseMountOptions(opts["o"]); err != nil {
		return errdefs.Invalid(err.Error())
	}
	return nil
}

// validateOptions adds the checks that need the store: a bind device may not be the store or lie
// inside it.
func (s *Store) validateOptions(opts map[string]string) error {
	if err := validateDriverOpts(opts); err != nil {
		return err
	}
	if isBindOpts(opts) {
		dev := filepath.Clean(opts["device"])
		if real, err := filepath.EvalSymlinks(dev); err == nil {
			dev = real
		}
		root := s.root
		if real, err := filepath.EvalSymlinks(root); err == nil {
			root = real
		}
		if dev == root || strings.HasPrefix(dev, root+"/") {
			return errdefs.Invalid(fmt.Sprintf("bind device %q is inside the berth store %s", opts["device"], s.root))
		}
	}
	return nil
}

func isBindOpts(opts map[string]string) bool {
	if opts["device"] == "" {
		return false
	}
	for _, o := range strings.Split(opts["o"], ",") {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

var mountFlagNames = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"defaults": {false, 0},
}

// parseMountOptions splits a mount(8)-style option list into mount(2) flags and filesystem data.
func parseMountOptions(o string) (uintptr, string, error) {
	var flags uintptr
	var data []string
	if o == "" {
		return 0, "", nil
	}
	for _, opt := range strings.Split(o, ",") {
		if opt == "" {
			continue
		}
		if f, ok := mountFlagNames[opt]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if strings.ContainsAny(opt, "\x00") {
			return 0, "", fmt.Errorf("invalid mount option %q", opt)
		}
		data = append(data, opt)
	}
	return flags, strings.Join(data, ","), nil
}

// Source is where a container mounting v binds from, and whether the volume's own options make
// it read-only. A plain volume is its _data folder; "-o type=none,o=bind,device=DIR" is DIR; any
// other "-o type=T,device=D" is mounted on _data on the host at first use (kept until the volume
// is removed).
func (s *Store) Source(v *Volume) (src string, readOnly bool, err error) {
	if len(v.Options) == 0 || v.Options["device"] == "" {
		return s.DataPath(v.Name), false, nil
	}
	flags, data, err := parseMountOptions(v.Options["o"])
	if err != nil {
		return "", false, fmt.Errorf("mount volume %s: %w", v.Name, err)
	}
	readOnly = flags&unix.MS_RDONLY != 0
	if isBindOpts(v.Options) {
		dev := v.Options["device"]
		if _, err := os.Stat(dev); err != nil {
			return "", false, fmt.Errorf("failed to mount local volume %s: %w", v.Name, err)
		}
		return dev, readOnly, nil
	}
	l, err := s.lock()
	if err != nil {
		return "", false, fmt.Errorf("mount volume %s: %w", v.Name, err)
	}
	defer l.Release()
	target := s.DataPath(v.Name)
	mounted, err := isMountPoint(target)
	if err != nil {
		return "", false, fmt.Errorf("mount volume %s: %w", v.Name, err)
	}
	if !mounted {
		typ := v.Options["type"]
		if err := unix.Mount(v.Options["device"], target, typ, flags&^unix.MS_RDONLY, data); err != nil {
			return "", false, fmt.Errorf("failed to mount local volume %s: mount %s:%s, type %s, data %q: %w",
				v.Name, v.Options["device"], target, typ, data, err)
		}
	}
	return target, readOnly, nil
}

// unmountLocked undoes a host mount Source made on _data. The caller holds the store lock.
func (s *Store) unmountLocked(v *Volume) error {
	target := s.DataPath(v.Name)
	for i := 0; i < 8; i++ {
		mounted, err := isMountPoint(target)
		if err != nil || !mounted {
			return nil
		}
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return nil
}

// isMountPoint tells whether p is a mount point (its device differs from its parent's, or it is
// a bind of the same filesystem as shown by a differing mount ID).
func isMountPoint(p string) (bool, error) {
	var st, pst unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(p), &pst); err != nil {
		return false, err
	}
	if st.Dev != pst.Dev {
		return true, nil
	}
	var sx, psx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &sx) == nil &&
		unix.Statx(unix.AT_FDCWD, filepath.Dir(p), unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &psx) == nil &&
		sx.Mask&unix.STATX_MNT_ID != 0 && psx.Mask&unix.STATX_MNT_ID != 0 {
		return sx.Mnt_id != psx.Mnt_id, nil
	}
	return false, nil
}

func inode(fi os.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, uint64(st.Nlink)
	}
	return 0, 1
}
