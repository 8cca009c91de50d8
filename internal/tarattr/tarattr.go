// Package tarattr gives a file extracted from a tar the metadata its header records: owner,
// xattrs, mode, times and, for a device node or fifo, its type and device number.
package tarattr

import (
	"archive/tar"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PAXXattrPrefix starts the names of the PAX records that hold extended attributes, as GNU tar,
// Docker and BuildKit write them.
const PAXXattrPrefix = "SCHILY.xattr."

// Chown makes uid:gid the owner of the entry at p (a symlink itself, not its target). Which
// owner an entry gets is the caller's rule.
func Chown(p string, uid, gid int) error {
	if err := unix.Lchown(p, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", p, err)
	}
	return nil
}

// Set gives the entry at p hdr's xattrs, mode (when chmod; never for a symlink, Linux has no
// lchmod) and times. It comes after the owner is set: chown clears setuid bits and file
// capabilities.
func Set(p string, hdr *tar.Header, chmod bool) error {
	if err := Xattrs(p, hdr); err != nil {
		return err
	}
	if chmod {
		if err := Chmod(p, hdr); err != nil {
			return err
		}
	}
	return Times(p, hdr)
}

// Xattrs sets on the entry at p (not following a symlink) the extended attributes hdr records.
// Overlayfs's own (trusted.overlay.*) are skipped: an archive must not forge whiteouts or opaque
// folders. Like Docker, an attribute that the filesystem does not support (ENOTSUP) or that the
// caller may not write (EPERM) is dropped rather than failing the extraction.
func Xattrs(p string, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, PAXXattrPrefix)
		if !ok || name == "" || strings.HasPrefix(name, "trusted.overlay.") {
			continue
		}
		err := unix.Lsetxattr(p, name, []byte(v), 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setxattr %s %s: %w", p, name, err)
		}
	}
	return nil
}

// Chmod sets the permission bits of p, with setuid, setgid and sticky, to hdr's. It follows a
// symlink at p: not for symlinks.
func Chmod(p string, hdr *tar.Header) error {
	if err := unix.Fchmodat(unix.AT_FDCWD, p, uint32(hdr.Mode)&0o7777, 0); err != nil {
		return fmt.Errorf("chmod %s: %w", p, err)
	}
	return nil
}

// Times sets the access and modification times of the entry at p (not following a symlink) to
// hdr's. Without an access time the modification time serves for both; a zero time leaves the
// entry's own.
func Times(p string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times on %s: %w", p, err)
	}
	return nil
}

// Node returns the file type (unix.S_IFCHR, unix.S_IFBLK or unix.S_IFIFO) and the device number
// that mknod(2) takes to make the character device, block device or fifo entry hdr.
func Node(hdr *tar.Header) (typ uint32, dev int) {
	typ = unix.S_IFIFO
	switch hdr.Typeflag {
	case tar.TypeChar:
		typ = unix.S_IFCHR
	case tar.TypeBlock:
		typ = unix.S_IFBLK
	}
	return typ, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Sec: 0, Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}
