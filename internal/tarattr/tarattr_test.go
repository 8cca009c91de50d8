package tarattr

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	hdr := &tar.Header{
		Mode:    0o1751,
		ModTime: mtime,
		PAXRecords: map[string]string{
			PAXXattrPrefix + "user.berth": "yes",
			// Never set, whatever the caller's privileges: overlayfs's own.
			PAXXattrPrefix + "trusted.overlay.opaque": "y",
		},
	}
	if err := Set(p, hdr, true); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	if got := st.Mode & 0o7777; got != 0o1751 {
		t.Errorf("mode = %o, want 1751", got)
	}
	if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) {
		t.Errorf("mtime = %v, want %v", got, mtime)
	}
	if got := time.Unix(st.Atim.Unix()); !got.Equal(mtime) {
		t.Errorf("atime = %v, want the mtime %v", got, mtime)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(p, "user.berth", buf); err == nil && string(buf[:n]) != "yes" {
		t.Errorf("user.berth = %q, want %q", buf[:n], "yes")
	} else if err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.ENODATA) {
		t.Error(err)
	}
	if _, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf); err == nil {
		t.Error("trusted.overlay.opaque was set")
	}
}

func TestTimesSymlinkAndZero(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(target, old, old); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := Set(link, &tar.Header{ModTime: mtime}, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("symlink mtime = %v, want %v", fi.ModTime(), mtime)
	}
	if fi, err := os.Stat(target); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("target changed through the symlink: %v, %v", fi, err)
	}

	// A header without times leaves the entry's own.
	if err := Times(target, &tar.Header{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(target); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("zero times changed the target: %v, %v", fi, err)
	}
}

func TestNode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag         byte
		major, minor int64
		typ          uint32
	}{
		{tar.TypeChar, 1, 3, unix.S_IFCHR},
		{tar.TypeBlock, 8, 17, unix.S_IFBLK},
		{tar.TypeFifo, 0, 0, unix.S_IFIFO},
	} {
		typ, dev := Node(&tar.Header{Typeflag: tc.flag, Devmajor: tc.major, Devminor: tc.minor})
		if typ != tc.typ || unix.Major(uint64(dev)) != uint32(tc.major) || unix.Minor(uint64(dev)) != uint32(tc.minor) {
			t.Errorf("Node(%q, %d:%d) = %o, %d:%d", tc.flag, tc.major, tc.minor, typ, unix.Major(uint64(dev)), unix.Minor(uint64(dev)))
		}
	}
}
