package storage

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func lstat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return st
}

func getxattr(p, name string) string {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

func TestApplyPreserves(t *testing.T) {
	requireRoot(t)
	mt := time.Unix(1600000000, 123456789)
	owned := file("etc/owned", "data")
	owned.uid, owned.gid = 1234, 5678
	suid := file("bin/suid", "#!")
	suid.mode = 0o4755
	sgidDir := dir("shared/")
	sgidDir.mode = 0o3775
	timed := file("etc/timed", "t")
	timed.mtime = mt
	timedDir := dir("timed/")
	timedDir.mtime = mt
	timedLink := symlink("etc/timedlink", "/nowhere")
	timedLink.mtime = mt
	timedLink.uid, timedLink.gid = 7, 8
	xa := file("etc/xattr", "x")
	xa.xattrs = map[string]string{"user.berth": "yes", "trusted.berth": "t", "security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}
	ownedDir := dir("own/")
	ownedDir.uid = 5
	ro := dir("ro/")
	ro.mode = 0o555
	layer := mkTar(t,
		dir("etc/"), owned, timed, timedLink, xa,
		dir("bin/"), suid, hardlink("bin/suid-link", "bin/suid"),
		sgidDir, timedDir, file("timed/inner", "written after the folder entry"),
		ro, file("ro/file", "in a read-only folder"),
		whiteoutEnt(".wh.gone"), dir("opaque/"), whiteoutEnt("opaque/.wh..wh..opq"), whiteoutEnt("opaque/.wh..wh.plnk"),
		fifo("dev/fifo"), chardev("dev/null", 1, 3),
		file("dup", "first"), file("dup", "second"),
		ownedDir, dir("own/"),
	)
	root := t.TempDir()
	size, err := Apply(root, bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len("data") + len("t") + len("x") + len("#!") + len("written after the folder entry") + len("in a read-only folder") + len("first") + len("second")); size != want {
		t.Errorf("size = %d, want %d", size, want)
	}
	p := func(s string) string { return filepath.Join(root, s) }

	if st := lstat(t, p("etc/owned")); st.Uid != 1234 || st.Gid != 5678 || st.Mode&0o7777 != 0o644 {
		t.Errorf("etc/owned: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if st := lstat(t, p("bin/suid")); st.Mode&0o7777 != 0o4755 || st.Nlink != 2 {
		t.Errorf("bin/suid: mode %o nlink %d", st.Mode&0o7777, st.Nlink)
	}
	if a, b := lstat(t, p("bin/suid")), lstat(t, p("bin/suid-link")); a.Ino != b.Ino {
		t.Error("hardlink is not the same inode")
	}
	if st := lstat(t, p("shared")); st.Mode&0o7777 != 0o3775 {
		t.Errorf("shared: mode %o", st.Mode&0o7777)
	}
	if st := lstat(t, p("ro")); st.Mode&0o7777 != 0o555 {
		t.Errorf("ro: mode %o", st.Mode&0o7777)
	}
	for _, n := range []string{"etc/timed", "timed", "etc/timedlink"} {
		if st := lstat(t, p(n)); st.Mtim.Nano() != mt.UnixNano() {
			t.Errorf("%s: mtime %v, want %v", n, time.Unix(0, st.Mtim.Nano()), mt)
		}
	}
	if st := lstat(t, p("etc/timedlink")); st.Uid != 7 || st.Gid != 8 || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("etc/timedlink: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode)
	}
	for k, v := range xa.xattrs {
		if got := getxattr(p("etc/xattr"), k); got != v {
			t.Errorf("xattr %s = %q, want %q", k, got, v)
		}
	}
	if st := lstat(t, p("gone")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout: mode %o rdev %d", st.Mode, st.Rdev)
	}
	if _, err := os.Lstat(p(".wh.gone")); err == nil {
		t.Error(".wh.gone extracted as a file")
	}
	if got := getxattr(p("opaque"), "trusted.overlay.opaque"); got != "y" {
		t.Errorf("opaque xattr = %q", got)
	}
	if ents, _ := os.ReadDir(p("opaque")); len(ents) != 0 {
		t.Errorf("opaque dir has %v", ents)
	}
	if st := lstat(t, p("dev/fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo mode %o", st.Mode)
	}
	if st := lstat(t, p("dev/null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) || st.Mode&0o777 != 0o600 {
		t.Errorf("dev/null mode %o rdev %d", st.Mode, st.Rdev)
	}
	if st := lstat(t, p("own")); st.Uid != 0 {
		t.Errorf("own: uid %d, want 0 from the folder's last entry", st.Uid)
	}
	if b, _ := os.ReadFile(p("dup")); string(b) != "second" {
		t.Errorf("dup = %q", b)
	}
}

func TestApplyRootEntryAndUnknownType(t *testing.T) {
	root := t.TempDir()
	rootEnt := dir("./")
	rootEnt.mode = 0o711
	if _, err := Apply(root, bytes.NewReader(mkTar(t, rootEnt, file("a", "b")))); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, root); st.Mode&0o7777 != 0o711 {
		t.Errorf("root mode %o", st.Mode&0o7777)
	}
	bad := ent{name: "x", typ: 'Z', mode: 0o644}
	if _, err := Apply(t.TempDir(), bytes.NewReader(mkTar(t, bad))); err == nil {
		t.Error("unknown entry type accepted")
	}
	if _, err := Apply(t.TempDir(), bytes.NewReader([]byte("not a tar at all, just some bytes that are long enough to fill a block"))); err == nil {
		t.Error("garbage accepted")
	}
	_ = tar.TypeReg
}
