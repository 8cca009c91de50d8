package storage

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// maxMountData is what mount(2) copies of its option string: one page.
var maxMountData = os.Getpagesize() - 1

// MountOverlay mounts an overlay filesystem at target over lowerDirs (top layer first) with the
// writable upper and work folders, as Docker's overlay2 does (index=off, redirect_dir=off, so
// the upper folder stays a plain docker-style diff). Missing upper, work and target folders are
// created. With upper "" the mount is read-only: a read-only overlay of the lowers, or a
// read-only bind mount when there is a single lower. Option strings too long for mount(2) (a
// page) are shortened by naming each lower through an open file descriptor (/proc/self/fd/N).
func MountOverlay(lowerDirs []string, upper, work, target string) error {
	return mountOverlay(lowerDirs, upper, work, target, false)
}

// MountOverlayVolatile is MountOverlay for a writable layer that is thrown away with its
// container (run --rm): overlayfs's volatile option. Neither an fsync inside nor the unmount
// then syncs the upper folder's filesystem; the unmount of a plain overlay commits that whole
// filesystem's journal (~1 ms on an idle host, much more on a busy one) for data about to be
// deleted. After a host crash overlayfs refuses to mount such an upper folder again, and none
// is: its container is removed. Kernels without the option (before 5.10) get a plain mount.
func MountOverlayVolatile(lowerDirs []string, upper, work, target string) error {
	err := mountOverlay(lowerDirs, upper, work, target, upper != "")
	if errors.Is(err, unix.EINVAL) {
		err = mountOverlay(lowerDirs, upper, work, target, false)
	}
	return err
}

func mountOverlay(lowerDirs []string, upper, work, target string, volatile bool) error {
	if len(lowerDirs) == 0 {
		return fmt.Errorf("mount overlay on %s: no lower layers", target)
	}
	for _, p := range append(append([]string{}, lowerDirs...), upper, work, target) {
		if strings.ContainsAny(p, ",:\\") {
			return fmt.Errorf("mount overlay on %s: path %q contains ',', ':' or '\\'", target, p)
		}
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", target, err)
	}
	if upper == "" {
		if len(lowerDirs) == 1 {
			return bindReadOnly(lowerDirs[0], target)
		}
	} else {
		if work == "" {
			return fmt.Errorf("mount overlay on %s: an upper folder needs a work folder", target)
		}
		if err := os.MkdirAll(upper, 0o755); err != nil {
			return fmt.Errorf("mount overlay on %s: %w", target, err)
		}
		if err := os.MkdirAll(work, 0o700); err != nil {
			return fmt.Errorf("mount overlay on %s: %w", target, err)
		}
	}
	data := overlayData(lowerDirs, upper, work, volatile)
	if len(data) > maxMountData {
		short := make([]string, len(lowerDirs))
		for i, l := range lowerDirs {
			fd, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("mount overlay on %s: open lower %s: %w", target, l, err)
			}
			defer unix.Close(fd)
			short[i] = fmt.Sprintf("/proc/self/fd/%d", fd)
		}
		data = overlayData(short, upper, work, volatile)
		if len(data) > maxMountData {
			return fmt.Errorf("mount overlay on %s: too many layers (%d)", target, len(lowerDirs))
		}
	}
	var flags uintptr
	if upper == "" {
		flags = unix.MS_RDONLY
	}
	if err := unix.Mount("overlay", target, "overlay", flags, data); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", target, err)
	}
	return nil
}

func overlayData(lowers []string, upper, work string, volatile bool) string {
	var b strings.Builder
	b.WriteString("lowerdir=")
	b.WriteString(strings.Join(lowers, ":"))
	if upper != "" {
		b.WriteString(",upperdir=" + upper + ",workdir=" + work)
		if volatile {
			b.WriteString(",volatile")
		}
	}
	b.WriteString(",index=off,redirect_dir=off")
	return b.String()
}

func bindReadOnly(src, target string) error {
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, target, err)
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		unix.Unmount(target, unix.MNT_DETACH)
		return fmt.Errorf("bind %s on %s read-only: %w", src, target, err)
	}
	return nil
}

// Unmount unmounts target. A target that is not mounted (or does not exist) is not an error;
// a busy one is detached lazily.
func Unmount(target string) error {
	err := unix.Unmount(target, 0)
	switch {
	case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY):
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
		return nil
	}
	return fmt.Errorf("unmount %s: %w", target, err)
}
