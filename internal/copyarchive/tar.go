package copyarchive

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
	"syscall"

	"golang.org/x/sys/unix"
)

// WriteTar writes the file or folder at p to w as a tar whose top entry is named name (a
// folder's entries are name/...; with name "." they are ./...). p is taken as the kernel takes
// it: a trailing "/" follows a symlink to a folder, a final symlink is archived as a link.
// Modes, owners (numeric), times, symlinks, hardlinks, device nodes, fifos and the file
// capability xattr are kept; sockets are left out, as Docker does.
func WriteTar(w io.Writer, p, name string) error {
	tw := tar.NewWriter(w)
	t := &tarrer{tw: tw, links: map[[2]uint64]string{}, buf: make([]byte, 256<<10)}
	if err := t.add(p, name); err != nil {
		return err
	}
	return tw.Close()
}

type tarrer struct {
	tw    *tar.Writer
	links map[[2]uint64]string
	buf   []byte
}

func (t *tarrer) add(p, name string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("archive %s: %w", p, err)
	}
	hdr.Name = name
	hdr.Uname, hdr.Gname = "", ""
	if fi.IsDir() && !strings.HasSuffix(hdr.Name, "/") {
		hdr.Name += "/"
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().IsRegular() && st != nil && st.Nlink > 1 {
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if first, ok := t.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return t.tw.WriteHeader(hdr)
		}
		t.links[key] = name
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		if capb, err := lgetxattr(p, "security.capability"); err == nil && len(capb) > 0 {
			hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(capb)}
		}
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive %s: %w", p, err)
	}
	switch {
	case fi.Mode().IsRegular():
		return t.content(p, hdr.Size)
	case fi.IsDir():
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
		base := strings.TrimSuffix(hdr.Name, "/")
		for _, e := range entries {
			if err := t.add(filepath.Join(p, e.Name()), base+"/"+e.Name()); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed meanwhile (a running container)
				}
				return err
			}
		}
	}
	return nil
}

// content copies size bytes of the file at p: a file that shrank meanwhile is padded with zeros,
// one that grew is cut, so the tar stays well formed.
func (t *tarrer) content(p string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(t.tw, io.LimitReader(f, size), t.buf)
	if err != nil {
		return fmt.Errorf("archive %s: %w", p, err)
	}
	for ; n < size; n++ {
		if _, err := t.tw.Write([]byte{0}); err != nil {
			return err
		}
	}
	return nil
}

func lgetxattr(p, attr string) ([]byte, error) {
	buf := make([]byte, 128)
	for {
		n, err := unix.Lgetxattr(p, attr, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// Rebase returns the tar r with its top entry oldBase renamed newBase (and every entry under
// it, and hardlink targets). The renaming happens as the result is read.
func Rebase(r io.Reader, oldBase, newBase string) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(rebase(pw, r, oldBase, newBase))
	}()
	return pr
}

func rebase(w io.Writer, r io.Reader, oldBase, newBase string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		hdr.Format = tar.FormatPAX // a longer name may need it
		hdr.Name = RenameEntry(hdr.Name, oldBase, newBase)
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = RenameEntry(hdr.Linkname, oldBase, newBase)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// RenameEntry renames a tar entry name whose first element is oldBase to start with newBase
// instead ("a/x" with a -> b is "b/x"; "./x" with . -> b is "b/x"); other names are kept.
func RenameEntry(name, oldBase, newBase string) string {
	if oldBase == newBase {
		return name
	}
	trail := strings.HasSuffix(name, "/")
	n := strings.TrimSuffix(name, "/")
	var out string
	switch {
	case n == oldBase:
		out = newBase
	case strings.HasPrefix(n, oldBase+"/"):
		out = path.Join(newBase, n[len(oldBase)+1:])
	default:
		return name
	}
	if trail {
		out += "/"
	}
	return out
}
