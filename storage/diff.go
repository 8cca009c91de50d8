package storage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Diff writes the overlay upper folder upperDir to w as a docker layer tar: overlay whiteouts
// (0/0 character devices) become ".wh.name" entries, opaque folders (trusted.overlay.opaque=y)
// get a ".wh..wh..opq" entry, and ownership, modes, xattrs (except overlay's own and SELinux
// labels), hardlinks, symlinks, device nodes and fifos are kept. Sockets are skipped, as Docker
// does. Entries come in lexical order and times are truncated to seconds, as Docker writes them.
func Diff(upperDir string, w io.Writer) error { return DiffWith(upperDir, w, DiffOptions{}) }

// DiffWith is Diff with options (see DiffOptions).
func DiffWith(upperDir string, w io.Writer, opts DiffOptions) error {
	d := &differ{
		skip:  opts.Skip,
		root:  filepath.Clean(upperDir),
		tw:    tar.NewWriter(w),
		links: map[uint64]string{},
		buf:   make([]byte, 1<<20),
	}
	rootFd, err := unix.Open(d.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("diff %s: %w", upperDir, err)
	}
	defer unix.Close(rootFd)
	d.rootFd = rootFd
	err = filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == d.root {
			return nil
		}
		if d.skip != nil && d.skip(strings.TrimPrefix(p, d.root+"/")) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return d.entry(p)
	})
	if err != nil {
		return fmt.Errorf("diff %s: %w", upperDir, err)
	}
	if err := d.tw.Close(); err != nil {
		return fmt.Errorf("diff %s: %w", upperDir, err)
	}
	return nil
}

type differ struct {
	skip   func(rel string) bool
	root   string
	rootFd int // O_PATH handle on root, for openat2
	tw     *tar.Writer
	links  map[uint64]string // inode -> first name written, for hardlinks
	buf    []byte
}

func (d *differ) entry(p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	rel, err := filepath.Rel(d.root, p)
	if err != nil {
		return err
	}
	name := filepath.ToSlash(rel)
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).Truncate(time.Second),
		Format:  tar.FormatPAX,
	}
	xattrs, err := readXattrs(p)
	if err != nil {
		return err
	}
	opaque := false
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		opaque = xattrs[opaqueXattr] == "y"
	case unix.S_IFREG:
		if st.Nlink > 1 {
			if first, ok := d.links[st.Ino]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				return d.write(hdr)
			}
			d.links[st.Ino] = name
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case unix.S_IFCHR:
		if st.Rdev == 0 {
			// An overlay whiteout: the file was deleted in the container.
			dir, base := path.Split(name)
			wh := &tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg, Mode: 0o600,
				Uid: hdr.Uid, Gid: hdr.Gid, ModTime: hdr.ModTime, Format: tar.FormatPAX}
			return d.write(wh)
		}
		hdr.Typeflag = tar.TypeChar
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // sockets and anything else cannot go in a layer
	}
	for k, v := range xattrs {
		if strings.HasPrefix(k, "trusted.overlay.") || k == "security.selinux" {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattr+k] = v
	}
	if err := d.write(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := d.copyFile(p, hdr.Size); err != nil {
			return err
		}
	}
	if opaque {
		oh := &tar.Header{Name: name + "/" + whiteoutOpaque, Typeflag: tar.TypeReg, Mode: hdr.Mode & 0o777,
			Uid: hdr.Uid, Gid: hdr.Gid, ModTime: hdr.ModTime, Format: tar.FormatPAX}
		return d.write(oh)
	}
	return nil
}

func (d *differ) write(hdr *tar.Header) error {
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write header %s: %w", hdr.Name, err)
	}
	return nil
}

func (d *differ) copyFile(p string, size int64) error {
	f, err := d.open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(writerOnly{d.tw}, io.LimitReader(f, size), d.buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	if n != size {
		return fmt.Errorf("copy %s: file shrank from %d to %d bytes while being read", p, size, n)
	}
	return nil
}

// open opens the regular file p inside the upper folder for reading. The folder may belong to a
// container that is still running, which could swap a parent folder for a symlink to the host
// between the walk and the open: openat2 refuses any symlink on the way and any escape.
func (d *differ) open(p string) (*os.File, error) {
	rel, err := filepath.Rel(d.root, p)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Openat2(d.rootFd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		return os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0) // kernels before 5.6
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// readXattrs returns all extended attributes of p (not following symlinks).
func readXattrs(p string) (map[string]string, error) {
	sz, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	if sz == 0 {
		return nil, nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	names := strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00")
	sort.Strings(names)
	out := make(map[string]string, len(names))
	for _, n := range names {
		if n == "" {
			continue
		}
		vsz, err := unix.Lgetxattr(p, n, nil)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return nil, fmt.Errorf("get xattr %s of %s: %w", n, p, err)
		}
		v := make([]byte, vsz)
		vsz, err = unix.Lgetxattr(p, n, v)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", n, p, err)
		}
		out[n] = string(v[:vsz])
	}
	return out, nil
}
