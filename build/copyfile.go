package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-project/berth/storage"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// identity is the owner COPY and ADD give what they copy (nil: keep the source's owners).
type identity struct{ uid, gid int }

// parseChown resolves --chown=user[:group] against the image's /etc/passwd and /etc/group
// (root is the mounted image); numeric IDs need no lookup. A user alone is also the group.
func parseChown(root, chown string) (*identity, error) {
	parts := strings.Split(chown, ":")
	if len(parts) > 2 {
		return nil, fmt.Errorf("invalid chown string format: %s", chown)
	}
	u, g := parts[0], parts[0]
	if len(parts) == 2 {
		g = parts[1]
	}
	uid, err := lookupID(root, "/etc/passwd", u, func(p string) ([]int, error) {
		users, err := user.ParsePasswdFileFilter(p, func(x user.User) bool { return x.Name == u })
		ids := make([]int, len(users))
		for i, x := range users {
			ids[i] = x.Uid
		}
		return ids, err
	})
	if err != nil {
		return nil, fmt.Errorf("can't find uid for user %s: %w", u, err)
	}
	gid, err := lookupID(root, "/etc/group", g, func(p string) ([]int, error) {
		groups, err := user.ParseGroupFileFilter(p, func(x user.Group) bool { return x.Name == g })
		ids := make([]int, len(groups))
		for i, x := range groups {
			ids[i] = x.Gid
		}
		return ids, err
	})
	if err != nil {
		return nil, fmt.Errorf("can't find gid for group %s: %w", g, err)
	}
	return &identity{uid: uid, gid: gid}, nil
}

func lookupID(root, file, name string, find func(string) ([]int, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	p, err := secureJoin(root, file)
	if err != nil {
		return 0, err
	}
	found, err := find(p)
	if err != nil {
		return 0, err
	}
	if len(found) == 0 {
		return 0, fmt.Errorf("no such user or group: %s", name)
	}
	return found[0], nil
}

// copySource copies s to dest (an absolute path in the image, a folder when it ends in "/")
// inside the mounted image root, as Docker's classic builder does: a folder's contents are
// copied into dest; a file goes to dest, or into it when dest is a folder; with unpack (ADD) a
// local tar archive, plain or compressed, is unpacked into dest.
func copySource(root, dest string, s *source, owner *identity, unpack bool) error {
	target, err := secureJoin(root, dest)
	if err != nil {
		return err
	}
	if s.dir {
		_, statErr := os.Lstat(target)
		created := errors.Is(statErr, fs.ErrNotExist)
		if err := mkdirAll(root, dest, owner); err != nil {
			return err
		}
		if created {
			if err := lchown(target, owner); err != nil {
				return err
			}
		}
		return copyTree(s, s.full, "", target, owner)
	}
	if unpack {
		ok, err := unpackArchive(s, root, dest, target)
		if ok || err != nil {
			return err
		}
	}
	if fi, err := os.Stat(target); (err == nil && fi.IsDir()) || strings.HasSuffix(dest, "/") {
		dest = filepath.Join(dest, filepath.Base(s.rel))
	}
	if err := mkdirAll(root, filepath.Dir(dest), owner); err != nil {
		return err
	}
	parent, err := secureJoin(root, filepath.Dir(dest))
	if err != nil {
		return err
	}
	fi, err := os.Stat(s.full)
	if err != nil {
		return err
	}
	hashHeader(s, "", fi, owner)
	return copyEntry(s, s.full, fi, filepath.Join(parent, filepath.Base(dest)), owner)
}

// hashHeader adds to the source's hash what the layer gets of an entry besides its content:
// its path under the source, its mode and, when the files keep their owners (COPY --from),
// its owner. The hash names the sources in the history, which the build cache compares: a
// chmod or chown of a source must miss it.
func hashHeader(s *source, rel string, fi fs.FileInfo, owner *identity) {
	h := rel + "\x00" + fi.Mode().String() + "\x00"
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && owner == nil {
		h += fmt.Sprintf("%d:%d\x00", st.Uid, st.Gid)
	}
	s.hash.Write([]byte(h))
}

// mkdirAll creates the folder dir of the image and its missing parents (0755, owned by owner
// when set; root otherwise), resolving symlinks inside root.
func mkdirAll(root, dir string, owner *identity) error {
	cur := "/"
	for _, part := range strings.Split(filepath.Clean("/"+dir), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		p, err := secureJoin(root, cur)
		if err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %s: not a directory", cur)
			}
			continue
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		if err := lchown(p, owner); err != nil {
			return err
		}
	}
	return nil
}

// unpackArchive unpacks s into dest when it is a tar archive (plain, gzip, bzip2 or zstd);
// false when it is not one.
func unpackArchive(s *source, root, dest, target string) (bool, error) {
	f, err := os.Open(s.full)
	if err != nil {
		return false, err
	}
	defer f.Close()
	dr, err := storage.Decompress(f)
	if err != nil {
		return false, nil // xz and broken compressed data: copied as a file
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(dr, head)
	dr.Close()
	if !isTar(head[:n]) {
		return false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	if err := mkdirAll(root, dest, nil); err != nil {
		return false, err
	}
	dr, err = storage.Decompress(io.TeeReader(f, s.hash))
	if err != nil {
		return false, err
	}
	defer dr.Close()
	if _, err := storage.Apply(target, dr); err != nil {
		return true, fmt.Errorf("unpack %s: %w", s.rel, err)
	}
	// The rest of the file (past the tar's end) counts in the hash too.
	_, err = io.Copy(s.hash, f)
	return true, err
}

// copyTree copies the contents of the folder src (rel is its path under the source, for the
// .dockerignore filter) into the existing folder dst.
func copyTree(s *source, src, rel, dst string, owner *identity) error {
	names, err := sortedNames(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		r := filepath.Join(rel, name)
		if s.filter != nil && s.filter(filepath.Join(s.rel, r)) {
			continue
		}
		p := filepath.Join(src, name)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		hashHeader(s, r, fi, owner)
		if err := copyEntry(s, p, fi, filepath.Join(dst, name), owner); err != nil {
			return err
		}
		if fi.IsDir() {
			if err := copyTree(s, p, r, filepath.Join(dst, name), owner); err != nil {
				return err
			}
			if err := setTimes(filepath.Join(dst, name), fi); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyEntry creates dst as a copy of src (not followed): a folder (its contents are copied
// apart), a file, a symlink, a device or a fifo; sockets are skipped. An existing dst is
// replaced, except a folder where a folder goes.
func copyEntry(s *source, src string, fi fs.FileInfo, dst string, owner *identity) error {
	if old, err := os.Lstat(dst); err == nil {
		if old.IsDir() && fi.IsDir() {
			return nil
		}
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
	}
	uid, gid := 0, 0
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid, gid = int(st.Uid), int(st.Gid)
	}
	if owner != nil {
		uid, gid = owner.uid, owner.gid
	}
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
	case mode.IsRegular():
		if err := copyFileData(s, src, dst); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return err
		}
		s.hash.Write([]byte(link))
		if err := os.Symlink(link, dst); err != nil {
			return err
		}
		if err := os.Lchown(dst, uid, gid); err != nil {
			return err
		}
		return setTimes(dst, fi)
	case mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st == nil {
			return nil
		}
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return nil // sockets
	}
	if err := os.Lchown(dst, uid, gid); err != nil {
		return err
	}
	// chmod after chown: chown clears setuid and setgid bits.
	if err := os.Chmod(dst, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	return setTimes(dst, fi)
}

func copyFileData(s *source, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.MultiWriter(out, s.hash), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
