package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/lock"
	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// ResolveInRoot resolves the container path p inside rootfs the way the container would see it:
// symlinks (absolute or with "..") are followed but never leave rootfs.
func ResolveInRoot(rootfs, p string) (string, error) {
	r, err := securejoin.SecureJoin(rootfs, p)
	if err != nil {
		return "", fmt.Errorf("resolve %s in %s: %w", p, rootfs, err)
	}
	return r, nil
}

// IsEmptyDir tells whether dir has no entries (a missing dir counts as empty).
func IsEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return true, nil
		}
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

// CopyUp copies the tree at src (a directory of the container's root, already resolved with
// ResolveInRoot) into the volume folder dst when dst is empty, as Docker does on first use of a
// volume: ownership, modes (setuid included), times, symlinks, hard links, device nodes, FIFOs and
// extended attributes are kept, and dst itself takes src's owner and mode. Symlinks inside src are
// copied as links, never followed. A src that is missing or not a directory copies nothing.
func CopyUp(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("copy-up %s: %w", src, err)
	}
	if !fi.IsDir() {
		return nil
	}
	empty, err := IsEmptyDir(dst)
	if err != nil {
		return fmt.Errorf("copy-up into %s: %w", dst, err)
	}
	if !empty {
		return nil
	}
	c := &copier{links: map[fileID]string{}}
	if err := c.copyDirContents(src, dst); err != nil {
		return fmt.Errorf("copy-up %s to %s: %w", src, dst, err)
	}
	st := &unix.Stat_t{}
	if err := unix.Lstat(src, st); err != nil {
		return fmt.Errorf("copy-up %s: %w", src, err)
	}
	if err := c.copyMeta(src, dst, st); err != nil {
		return fmt.Errorf("copy-up %s to %s: %w", src, dst, err)
	}
	return nil
}

type fileID struct{ dev, ino uint64 }

type copier struct {
	links map[fileID]string // first copy of each multiply-linked file
}

func (c *copier) copyDirContents(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := c.copyEntry(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) copyEntry(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	st := &unix.Stat_t{}
	if err := unix.Lstat(src, st); err != nil {
		return err
	}
	if !fi.IsDir() && st.Nlink > 1 {
		id := fileID{uint64(st.Dev), st.Ino}
		if first, ok := c.links[id]; ok {
			return os.Link(first, dst)
		}
		c.links[id] = dst
	}
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		if err := c.copyDirContents(src, dst); err != nil {
			return err
		}
	case mode.IsRegular():
		if err := copyFile(src, dst); err != nil {
			return err
		}
	case mode&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case mode&(os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe) != 0:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return nil // sockets and the like are not copied, as tar would not either
	}
	return c.copyMeta(src, dst, st)
}

func copyFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyMeta gives dst src's owner, mode, xattrs and times (in that order: chown clears setuid,
// writing children changes a directory's mtime).
func (c *copier) copyMeta(src, dst string, st *unix.Stat_t) error {
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	copyXattrs(src, dst)
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Chmod(dst, st.Mode&07777); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return nil
}

// copyXattrs copies the extended attributes it can (security.capability, user.*); failures are
// ignored as the target file system may not support them.
func copyXattrs(src, dst string) {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size <= 0 {
		return
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(src, buf)
	if err != nil {
		return
	}
	start := 0
	for i := 0; i < size; i++ {
		if buf[i] != 0 {
			continue
		}
		name := string(buf[start:i])
		start = i + 1
		if name == "" || name == "security.selinux" {
			continue
		}
		n, err := unix.Lgetxattr(src, name, nil)
		if err != nil || n < 0 {
			continue
		}
		val := make([]byte, n)
		n, err = unix.Lgetxattr(src, name, val)
		if err != nil {
			continue
		}
		unix.Lsetxattr(dst, name, val[:n], 0)
	}
}

// CopyUpInto is CopyUp into the volume folder dst of v, holding v's copy lock so that two
// containers starting at once on the same new volume do not both copy.
func (s *Store) CopyUpInto(v *Volume, src, dst string) error {
	dir, err := s.path(v.Name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "volume.json")); err != nil {
		return fmt.Errorf("copy-up into volume %s: %w", v.Name, err)
	}
	l, err := lock.Acquire(filepath.Join(dir, ".copyup.lock"))
	if err != nil {
		return fmt.Errorf("copy-up into volume %s: %w", v.Name, err)
	}
	defer l.Release()
	return CopyUp(src, dst)
}
