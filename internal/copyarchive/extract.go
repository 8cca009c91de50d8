package copyarchive

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
	"golang.org/x/sys/unix"
)

// ErrUnsafeArchive is wrapped by errors for entries that would be written outside the folder
// the tar is extracted in (a name climbing out with "..", a path crossing a symlink).
var ErrUnsafeArchive = errors.New("unsafe archive entry")

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// ExtractOptions tune Extract.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a folder with a non-folder and the reverse, as
	// docker cp does.
	NoOverwriteDirNonDir bool
	// Owner, when set, owns every entry extracted (docker cp into a container: root).
	Owner *Owner
	// KeepOwner gives each entry the owner its header names (docker cp -a). Without it and
	// without Owner the entries belong to the caller.
	KeepOwner bool
}

// Extract unpacks the tar r into the existing folder dir. Entries are never written through a
// symlink: not through one the tar made, nor one already in dir (such paths are refused); names
// climbing out of dir are refused. Modes, times and (per opts) owners are set; folders get their
// mode and times once their contents are in. dir itself (the entry "." of a "dir/." copy) keeps
// its owner, mode and times.
func Extract(r io.Reader, dir string, opts ExtractOptions) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	st, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("extract into %s: %w", dir, ErrNotDirectory)
	}
	x := &extractor{root: root, opts: opts, dirs: map[string]bool{".": true}, buf: make([]byte, 256<<10)}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	// Folder modes and times last, deepest first: writing in a folder changes its mtime.
	for i := len(x.dirMeta) - 1; i >= 0; i-- {
		d := x.dirMeta[i]
		if err := tarattr.Set(d.p, d.hdr, true); err != nil {
			return err
		}
	}
	return nil
}

type extractor struct {
	root string
	opts ExtractOptions
	// dirs are entry folders (cleaned, relative) known to be real folders under root.
	dirs    map[string]bool
	dirMeta []dirMeta
	buf     []byte
}

type dirMeta struct {
	p   string
	hdr *tar.Header
}

// clean turns a tar name into a path relative to the root ("." for the root itself).
func clean(name string) (string, error) {
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%w: %q is outside of the destination", ErrUnsafeArchive, name)
	}
	return rel, nil
}

func (x *extractor) abs(rel string) string {
	if rel == "." {
		return x.root
	}
	return x.root + "/" + rel
}

// parent makes sure the folder of rel is a real folder below the root reached without symlinks,
// creating missing folders (mode 0755, owned as opts say).
func (x *extractor) parent(rel string) error {
	dir := path.Dir(rel)
	if x.dirs[dir] {
		return nil
	}
	cur := "."
	for _, el := range strings.Split(dir, "/") {
		cur = path.Join(cur, el)
		if x.dirs[cur] {
			continue
		}
		p := x.abs(cur)
		var st unix.Stat_t
		err := unix.Lstat(p, &st)
		switch {
		case errors.Is(err, unix.ENOENT):
			if err := unix.Mkdir(p, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
			if err := x.chown(p, nil); err != nil {
				return err
			}
		case err != nil:
			return err
		case st.Mode&unix.S_IFMT == unix.S_IFLNK:
			return fmt.Errorf("%w: %s is a symlink", ErrUnsafeArchive, p)
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return fmt.Errorf("%s: %w", p, ErrNotDirectory)
		}
		x.dirs[cur] = true
	}
	return nil
}

func (x *extractor) entry(hdr *tar.Header, tr *tar.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader:
		return nil
	}
	rel, err := clean(hdr.Name)
	if err != nil {
		return err
	}
	isDir := hdr.Typeflag == tar.TypeDir
	if rel == "." {
		// The destination folder itself ("dir/." copies): it keeps its own owner, mode and
		// times, only its contents are copied.
		if !isDir {
			return fmt.Errorf("cannot overwrite the destination %q with non-directory %q", x.root, hdr.Name)
		}
		return nil
	}
	if err := x.parent(rel); err != nil {
		return err
	}
	p := x.abs(rel)
	var st unix.Stat_t
	switch err := unix.Lstat(p, &st); {
	case errors.Is(err, unix.ENOENT):
	case err != nil:
		return err
	default:
		exDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if exDir && isDir {
			break // merged: only its metadata changes
		}
		if x.opts.NoOverwriteDirNonDir && exDir && !isDir {
			return fmt.Errorf("cannot overwrite directory %q with non-directory %q", p, hdr.Name)
		}
		if x.opts.NoOverwriteDirNonDir && !exDir && isDir {
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q", p, hdr.Name)
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		delete(x.dirs, rel)
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdir(p, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		x.dirs[rel] = true
		if err := x.chown(p, hdr); err != nil {
			return err
		}
		x.dirMeta = append(x.dirMeta, dirMeta{p: p, hdr: hdr})
		return nil
	case tar.TypeReg, tar.TypeRegA:
		if err := x.file(p, hdr, tr); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := unix.Symlink(hdr.Linkname, p); err != nil {
			return fmt.Errorf("symlink %s: %w", p, err)
		}
	case tar.TypeLink:
		trel, err := clean(hdr.Linkname)
		if err != nil {
			return err
		}
		if trel == "." {
			return fmt.Errorf("%w: hardlink %q to the destination", ErrUnsafeArchive, hdr.Name)
		}
		if err := x.parent(trel); err != nil {
			return err
		}
		if err := unix.Linkat(unix.AT_FDCWD, x.abs(trel), unix.AT_FDCWD, p, 0); err != nil {
			return fmt.Errorf("link %s: %w", p, err)
		}
		return nil // shares its target's metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ, dev := tarattr.Node(hdr)
		if err := unix.Mknod(p, typ|0o600, dev); err != nil {
			return fmt.Errorf("mknod %s: %w", p, err)
		}
	default:
		return fmt.Errorf("%q: unsupported tar entry type %q", hdr.Name, hdr.Typeflag)
	}
	if err := x.chown(p, hdr); err != nil {
		return err
	}
	// After the owner: a chown clears setuid bits and file capabilities.
	return tarattr.Set(p, hdr, hdr.Typeflag != tar.TypeSymlink)
}

func (x *extractor) file(p string, hdr *tar.Header, tr *tar.Reader) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	if _, err := io.CopyBuffer(f, tr, x.buf); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return f.Close()
}

// chown gives the entry at p its owner: opts.Owner, else (KeepOwner) the header's; hdr nil is a
// folder made for a missing parent, which gets opts.Owner or is left to the caller.
func (x *extractor) chown(p string, hdr *tar.Header) error {
	switch {
	case x.opts.Owner != nil:
		return tarattr.Chown(p, x.opts.Owner.UID, x.opts.Owner.GID)
	case x.opts.KeepOwner && hdr != nil:
		return tarattr.Chown(p, hdr.Uid, hdr.Gid)
	}
	return nil
}
