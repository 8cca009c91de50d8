package storage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/tarattr"
	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// ErrUnsafeArchive is wrapped by errors for tar entries that try to reach outside the folder
// they are unpacked into.
var ErrUnsafeArchive = errors.New("unsafe archive entry")

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
	paxXattr       = tarattr.PAXXattrPrefix
)

// Apply unpacks the uncompressed docker layer tar r into dir (an existing, private folder that
// nothing else writes to meanwhile) and returns the total size of its regular files.
//
// Whiteouts become overlayfs whiteouts: ".wh.name" a 0/0 character device "name", and
// ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its folder. Modes (with setuid, setgid and
// sticky bits), ownership, xattrs, modification times (of symlinks too; folders last),
// hardlinks, device nodes and fifos are kept.
//
// Nothing is ever written outside dir: names and hardlink targets that climb out with ".." are
// refused; absolute names are taken relative to dir; every parent folder is resolved inside dir
// as the container would see it (symlinks, absolute or chained, are followed with dir as "/"),
// and the entry itself is never followed: an existing symlink is replaced, not written through.
func Apply(dir string, r io.Reader) (int64, error) { return apply(dir, r, false, nil) }

// apply is Apply; rec, when set, is the reader r (or reads from it) and records the tar.
func apply(dir string, r io.Reader, writeback bool, rec *tarRecorder) (int64, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return 0, err
	}
	a := &applier{
		root:      filepath.Clean(root),
		dirs:      map[string]string{".": ""},
		buf:       make([]byte, 1<<20),
		isRoot:    os.Geteuid() == 0,
		writeback: writeback,
		rec:       rec,
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read layer tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return 0, fmt.Errorf("unpack %q: %w", hdr.Name, err)
		}
	}
	if err := a.finishDirs(); err != nil {
		return 0, err
	}
	return a.size, nil
}

type applier struct {
	root string
	// dirs maps a cleaned entry folder name to its real folder relative to root, known to be a
	// real directory reached without symlinks. It saves resolving (lstat per component) the
	// parents of every entry.
	dirs map[string]string
	// dirMeta are folders whose mode and times are set at the end, after their contents.
	dirMeta []dirMeta
	// replaced records that an existing folder or symlink was replaced, so paths remembered
	// earlier may now cross a symlink and must be checked again.
	replaced bool
	buf      []byte
	size     int64
	isRoot   bool
	// writeback starts disk writes of big files early, for a caller that syncs at the end.
	writeback bool
	// rec records the tar for LayerTar (nil: not recorded).
	rec *tarRecorder
}

type dirMeta struct {
	rel string
	hdr *tar.Header
}

// cleanName turns a tar name into a path relative to the root, refusing names that climb out.
func cleanName(name string) (string, error) {
	c := path.Clean("/" + strings.TrimLeft(name, "/"))
	raw := path.Clean(strings.TrimLeft(name, "/"))
	if raw == ".." || strings.HasPrefix(raw, "../") {
		return "", fmt.Errorf("%w: %q climbs out of the layer", ErrUnsafeArchive, name)
	}
	if c == "/" {
		return ".", nil
	}
	return c[1:], nil
}

// parent returns the real path (relative to root, "" for the root itself) of the folder that
// holds the cleaned name, creating missing folders, and resolving symlinks inside the root.
func (a *applier) parent(name string) (string, error) {
	dir := path.Dir(name)
	if real, ok := a.dirs[dir]; ok {
		return real, nil
	}
	abs, err := securejoin.SecureJoin(a.root, dir)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", dir, err)
	}
	rel, err := filepath.Rel(a.root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%w: %q resolves outside the layer", ErrUnsafeArchive, dir)
	}
	if rel == "." {
		rel = ""
	}
	// Components SecureJoin found are real folders; the missing ones we create now.
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", err
	}
	a.dirs[dir] = rel
	return rel, nil
}

// rel is the inverse of abs.
func (a *applier) rel(p string) string { return strings.TrimPrefix(p, a.root+"/") }

// sparse tells whether hdr is a sparse file (GNU or PAX form).
func sparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func (a *applier) abs(rel string) string {
	if rel == "" {
		return a.root
	}
	return a.root + "/" + rel
}

func (a *applier) entry(hdr *tar.Header, tr *tar.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: the layer root must be a folder", ErrUnsafeArchive)
		}
		if err := a.owner(a.root, hdr, false); err != nil {
			return err
		}
		if err := tarattr.Xattrs(a.root, hdr); err != nil {
			return err
		}
		a.dirMeta = append(a.dirMeta, dirMeta{rel: "", hdr: hdr})
		return nil
	}
	parent, err := a.parent(name)
	if err != nil {
		return err
	}
	base := path.Base(name)
	join := func(b string) string {
		if parent == "" {
			return b
		}
		return parent + "/" + b
	}

	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(parent, join, base, hdr)
	}
	rel := join(base)
	p := a.abs(rel)

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := a.mkdir(p); err != nil {
			return err
		}
		a.dirs[name] = rel
		if err := a.owner(p, hdr, false); err != nil {
			return err
		}
		if err := tarattr.Xattrs(p, hdr); err != nil {
			return err
		}
		a.dirMeta = append(a.dirMeta, dirMeta{rel: rel, hdr: hdr})
		return nil
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		if err := a.file(p, hdr, tr); err != nil {
			return err
		}
		a.size += hdr.Size
	case tar.TypeSymlink:
		if err := a.create(p, func() error { return unix.Symlink(hdr.Linkname, p) }); err != nil {
			return err
		}
		if err := a.meta(p, hdr, false); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := a.linkTarget(hdr.Linkname)
		if err != nil {
			return err
		}
		if target == p {
			return nil
		}
		return a.create(p, func() error { return unix.Linkat(unix.AT_FDCWD, target, unix.AT_FDCWD, p, 0) })
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ, dev := tarattr.Node(hdr)
		if err := a.create(p, func() error { return unix.Mknod(p, typ|uint32(hdr.Mode)&0o7777, dev) }); err != nil {
			return err
		}
		if err := a.meta(p, hdr, true); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	return nil
}

// whiteout turns a docker whiteout entry into overlay's form inside the (real) parent folder.
func (a *applier) whiteout(parent string, join func(string) string, base string, hdr *tar.Header) error {
	if base == whiteoutOpaque {
		p := a.abs(parent)
		if err := unix.Lsetxattr(p, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark %s opaque: %w", p, err)
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // aufs bookkeeping (.wh..wh.plnk and the like): nothing for overlay
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if victim == "" || victim == "." || victim == ".." || strings.Contains(victim, "/") {
		return fmt.Errorf("%w: bad whiteout name", ErrUnsafeArchive)
	}
	p := a.abs(join(victim))
	if err := a.create(p, func() error { return unix.Mknod(p, unix.S_IFCHR, 0) }); err != nil {
		return fmt.Errorf("whiteout %s: %w", victim, err)
	}
	return a.meta(p, hdr, false)
}

// linkTarget resolves a hardlink target name inside the root without following its last
// component (link(2) links a symlink itself, never what it points to).
func (a *applier) linkTarget(linkname string) (string, error) {
	name, err := cleanName(linkname)
	if err != nil {
		return "", err
	}
	if name == "." {
		return "", fmt.Errorf("%w: hardlink to the layer root", ErrUnsafeArchive)
	}
	parent, err := a.parent(name)
	if err != nil {
		return "", err
	}
	if parent == "" {
		return a.abs(path.Base(name)), nil
	}
	return a.abs(parent + "/" + path.Base(name)), nil
}

// create runs mk, which makes a new entry at p; if something is already there (a duplicate
// entry, a symlink planted by an earlier entry...) it is removed first, never followed.
func (a *applier) create(p string, mk func() error) error {
	err := mk()
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	if err := a.removeExisting(p); err != nil {
		return err
	}
	return mk()
}

func (a *applier) removeExisting(p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if a.rec != nil {
		moved, err := a.rec.evict(a.rel(p), st.Mode&unix.S_IFMT == unix.S_IFDIR)
		if moved || err != nil {
			return err
		}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		a.replaced = true
		a.dirs = map[string]string{".": ""}
		return os.RemoveAll(p)
	case unix.S_IFLNK:
		a.replaced = true
		a.dirs = map[string]string{".": ""}
	}
	return unix.Unlink(p)
}

// mkdir makes a real folder at p, keeping an existing folder and replacing anything else.
func (a *applier) mkdir(p string) error {
	err := unix.Mkdir(p, 0o700)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil
	}
	if err := a.removeExisting(p); err != nil {
		return err
	}
	return unix.Mkdir(p, 0o700)
}

func (a *applier) file(p string, hdr *tar.Header, tr *tar.Reader) error {
	var fd int
	err := a.create(p, func() error {
		var err error
		fd, err = unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	if hdr.Size > 0 {
		// The content of a sparse file is not what the tar holds: recorded as raw bytes.
		record := a.rec != nil && !sparse(hdr)
		if record {
			a.rec.beginFile(a.rel(p))
		}
		if _, err := io.CopyBuffer(&earlyWriter{f: f, enabled: a.writeback}, tr, a.buf); err != nil {
			return err
		}
		if record {
			a.rec.endFile()
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return a.meta(p, hdr, true)
}

// meta sets ownership, xattrs, mode (if chmod) and times on the entry at p, in the order that
// keeps setuid bits and file capabilities (chown clears both).
func (a *applier) meta(p string, hdr *tar.Header, chmod bool) error {
	if err := a.owner(p, hdr, true); err != nil {
		return err
	}
	return tarattr.Set(p, hdr, chmod)
}

// owner sets the entry's owner. fresh says we just created the entry (as opposed to keeping an
// existing folder): created by root in folders that are not setgid until finishDirs, it is
// already owned by 0:0.
func (a *applier) owner(p string, hdr *tar.Header, fresh bool) error {
	if fresh && a.isRoot && hdr.Uid == 0 && hdr.Gid == 0 {
		return nil
	}
	err := tarattr.Chown(p, hdr.Uid, hdr.Gid)
	if err != nil && (a.isRoot || !errors.Is(err, unix.EPERM)) {
		return err
	}
	return nil
}

// finishDirs sets folder modes and times once nothing more is written inside them. A folder
// listed twice gets the metadata of its last entry.
func (a *applier) finishDirs() error {
	for _, d := range a.dirMeta {
		p := a.abs(d.rel)
		if a.replaced && d.rel != "" {
			// An entry replaced a folder or symlink: this path may now cross a symlink.
			abs, err := securejoin.SecureJoin(a.root, d.rel)
			if err != nil || abs != p {
				continue
			}
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // replaced by a later entry
		}
		if err := tarattr.Chmod(p, d.hdr); err != nil {
			return err
		}
		if err := tarattr.Times(p, d.hdr); err != nil {
			return err
		}
	}
	return nil
}
