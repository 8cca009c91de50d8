package volume

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func requiresRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func stat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestCopyUpKeepsOwnershipAndModes(t *testing.T) {
	requiresRoot(t)
	t.Parallel()
	src := filepath.Join(t.TempDir(), "var-lib-db")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(src, 0o750))
	must(os.Chown(src, 999, 998))
	must(os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o700))
	must(os.Chown(filepath.Join(src, "sub"), 33, 33))
	must(os.WriteFile(filepath.Join(src, "sub", "deep", "f"), []byte("deep"), 0o640))
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chown(filepath.Join(src, "suid"), 0, 50))
	must(unix.Chmod(filepath.Join(src, "suid"), 0o4755))
	must(os.WriteFile(filepath.Join(src, "a"), []byte("hello"), 0o600))
	must(os.Chown(filepath.Join(src, "a"), 1000, 1000))
	must(os.Link(filepath.Join(src, "a"), filepath.Join(src, "a-link")))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "abs-link")))
	must(os.Lchown(filepath.Join(src, "abs-link"), 7, 7))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o620))
	must(unix.Chmod(filepath.Join(src, "fifo"), 0o620))

	dst := filepath.Join(t.TempDir(), "_data")
	must(os.Mkdir(dst, 0o755))
	must(CopyUp(src, dst))

	if st := stat(t, dst); st.Uid != 999 || st.Gid != 998 || st.Mode&07777 != 0o750 {
		t.Errorf("volume root: uid %d gid %d mode %o, want 999 998 750", st.Uid, st.Gid, st.Mode&07777)
	}
	if st := stat(t, filepath.Join(dst, "sub")); st.Uid != 33 || st.Mode&07777 != 0o700 {
		t.Errorf("sub: uid %d mode %o", st.Uid, st.Mode&07777)
	}
	if data, err := os.ReadFile(filepath.Join(dst, "sub", "deep", "f")); err != nil || string(data) != "deep" {
		t.Errorf("deep file: %q %v", data, err)
	}
	if st := stat(t, filepath.Join(dst, "suid")); st.Uid != 0 || st.Gid != 50 || st.Mode&07777 != 0o4755 {
		t.Errorf("suid: uid %d gid %d mode %o, want 0 50 4755", st.Uid, st.Gid, st.Mode&07777)
	}
	a, al := stat(t, filepath.Join(dst, "a")), stat(t, filepath.Join(dst, "a-link"))
	if a.Uid != 1000 || a.Mode&07777 != 0o600 || a.Ino != al.Ino {
		t.Errorf("a: uid %d mode %o, hard link kept %v", a.Uid, a.Mode&07777, a.Ino == al.Ino)
	}
	if target, err := os.Readlink(filepath.Join(dst, "abs-link")); err != nil || target != "/etc/passwd" {
		t.Errorf("symlink: %q %v", target, err)
	}
	if st := stat(t, filepath.Join(dst, "abs-link")); st.Uid != 7 {
		t.Errorf("symlink owner %d", st.Uid)
	}
	if st := stat(t, filepath.Join(dst, "fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o777 != 0o620 {
		t.Errorf("fifo mode %o", st.Mode)
	}
}

func TestCopyUpOnlyIntoEmptyVolume(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "image-file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "user-data"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CopyUp(src, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "image-file")); !os.IsNotExist(err) {
		t.Errorf("copied into a non-empty volume: %v", err)
	}
	// A missing source or a file source copies nothing and is no error.
	empty := t.TempDir()
	if err := CopyUp(filepath.Join(src, "missing"), empty); err != nil {
		t.Error(err)
	}
	if err := CopyUp(filepath.Join(src, "image-file"), empty); err != nil {
		t.Error(err)
	}
	if ok, _ := IsEmptyDir(empty); !ok {
		t.Error("something was copied from a missing or non-directory source")
	}
}

func TestResolveInRootStaysInside(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "real"), 0o755))
	must(os.Symlink("/etc", filepath.Join(root, "abs")))
	must(os.Symlink("../../../../../../etc", filepath.Join(root, "rel")))
	must(os.Symlink("/real", filepath.Join(root, "inside")))
	tests := map[string]string{
		"/abs":        filepath.Join(root, "etc"),
		"/abs/passwd": filepath.Join(root, "etc", "passwd"),
		"/rel":        filepath.Join(root, "etc"),
		"/inside/x":   filepath.Join(root, "real", "x"),
		"/../../etc":  filepath.Join(root, "etc"),
		"/data":       filepath.Join(root, "data"),
	}
	for in, want := range tests {
		got, err := ResolveInRoot(root, in)
		if err != nil || got != want {
			t.Errorf("ResolveInRoot(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
