package copyarchive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tarOf builds a tar from headers; a regular file's content is its Linkname field's text.
func tarOf(t *testing.T, hdrs ...*tar.Header) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body, h.Linkname = h.Linkname, ""
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	return &buf
}

func names(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

func TestWriteTarNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "d", "sub"), 0o755)
	mustWrite(t, filepath.Join(dir, "d", "a"), "a")
	mustWrite(t, filepath.Join(dir, "d", "sub", "b"), "b")
	os.Link(filepath.Join(dir, "d", "a"), filepath.Join(dir, "d", "hard"))
	os.Symlink("/etc", filepath.Join(dir, "d", "ln"))

	for _, tc := range []struct {
		p, name string
		want    []string
	}{
		{filepath.Join(dir, "d"), "d", []string{"d/", "d/a", "d/hard", "d/ln", "d/sub/", "d/sub/b"}},
		{filepath.Join(dir, "d") + "/.", ".", []string{"./", "./a", "./hard", "./ln", "./sub/", "./sub/b"}},
		{filepath.Join(dir, "d", "a"), "renamed", []string{"renamed"}},
		{filepath.Join(dir, "d", "ln"), "ln", []string{"ln"}},
	} {
		var buf bytes.Buffer
		if err := WriteTar(&buf, tc.p, tc.name); err != nil {
			t.Fatalf("WriteTar(%s): %v", tc.p, err)
		}
		if got := names(t, &buf); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("WriteTar(%s, %s) names = %v, want %v", tc.p, tc.name, got, tc.want)
		}
	}
}

func TestRoundTripKeepsModesTimesLinks(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "d", "sub"), 0o750)
	mustWrite(t, filepath.Join(src, "d", "x"), "hello")
	os.Chmod(filepath.Join(src, "d", "x"), os.ModeSetuid|0o755)
	os.Link(filepath.Join(src, "d", "x"), filepath.Join(src, "d", "hard"))
	os.Symlink("../x", filepath.Join(src, "d", "sub", "ln"))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "d", "x"), old, old)
	os.Chtimes(filepath.Join(src, "d", "sub"), old, old)

	var buf bytes.Buffer
	if err := WriteTar(&buf, filepath.Join(src, "d"), "copy"); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Extract(&buf, dst, ExtractOptions{NoOverwriteDirNonDir: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dst, "copy", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 || !fi.ModTime().Equal(old) {
		t.Errorf("x: mode %v mtime %v", fi.Mode(), fi.ModTime())
	}
	if fi, _ := os.Stat(filepath.Join(dst, "copy", "sub")); fi == nil || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(old) {
		t.Errorf("sub: %v", fi)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "copy", "sub", "ln")); l != "../x" {
		t.Errorf("symlink = %q", l)
	}
	a, _ := os.Stat(filepath.Join(dst, "copy", "x"))
	b, _ := os.Stat(filepath.Join(dst, "copy", "hard"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Errorf("hardlink not kept")
	}
}

func TestExtractRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(dst string)
		hdrs  []*tar.Header
		want  string
	}{
		{"climbs out", nil, []*tar.Header{{Name: "../evil", Typeflag: tar.TypeReg, Linkname: "x"}}, "outside of the destination"},
		{"hardlink out", nil, []*tar.Header{{Name: "h", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}, "outside of the destination"},
		{"through own symlink", nil, []*tar.Header{
			{Name: "ln", Typeflag: tar.TypeSymlink, Linkname: "/tmp"},
			{Name: "ln/evil", Typeflag: tar.TypeReg, Linkname: "x"},
		}, "is a symlink"},
		{"through existing symlink", func(dst string) { os.Symlink("/tmp", filepath.Join(dst, "ln")) },
			[]*tar.Header{{Name: "ln/evil", Typeflag: tar.TypeReg, Linkname: "x"}}, "is a symlink"},
		{"dir over file", func(dst string) { mustWrite(t, filepath.Join(dst, "f"), "") },
			[]*tar.Header{{Name: "f/", Typeflag: tar.TypeDir, Mode: 0o755}}, "cannot overwrite non-directory"},
		{"file over dir", func(dst string) { os.Mkdir(filepath.Join(dst, "d"), 0o755) },
			[]*tar.Header{{Name: "d", Typeflag: tar.TypeReg, Linkname: "x"}}, "cannot overwrite directory"},
		{"file as root", nil, []*tar.Header{{Name: ".", Typeflag: tar.TypeReg}}, "cannot overwrite the destination"},
	} {
		dst := t.TempDir()
		if tc.setup != nil {
			tc.setup(dst)
		}
		err := Extract(tarOf(t, tc.hdrs...), dst, ExtractOptions{NoOverwriteDirNonDir: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Extract error = %v, want %q", tc.name, err, tc.want)
		}
		if _, err := os.Lstat("/tmp/evil"); err == nil {
			t.Fatalf("%s: wrote /tmp/evil", tc.name)
		}
	}
}

func TestExtractReplacesFileAndMergesDirs(t *testing.T) {
	t.Parallel()
	dst := t.TempDir()
	os.Mkdir(filepath.Join(dst, "d"), 0o755)
	mustWrite(t, filepath.Join(dst, "d", "keep"), "k")
	mustWrite(t, filepath.Join(dst, "d", "f"), "old")
	err := Extract(tarOf(t,
		&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o700},
		&tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Linkname: "new"},
		&tar.Header{Name: "d/n/deep", Typeflag: tar.TypeReg, Linkname: "deep"},
	), dst, ExtractOptions{NoOverwriteDirNonDir: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
		if fi != nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			got = append(got, strings.TrimPrefix(p, dst)+"="+string(b))
		}
		return nil
	})
	sort.Strings(got)
	if want := "/d/f=new /d/keep=k /d/n/deep=deep"; strings.Join(got, " ") != want {
		t.Errorf("files = %v, want %s", got, want)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "d")); fi.Mode().Perm() != 0o700 {
		t.Errorf("merged folder mode = %v", fi.Mode())
	}
}

func TestExtractOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	t.Parallel()
	hdr := func() *tar.Header {
		return &tar.Header{Name: "f", Typeflag: tar.TypeReg, Linkname: "x", Uid: 1234, Gid: 5678}
	}
	for _, tc := range []struct {
		opts     ExtractOptions
		uid, gid uint32
	}{
		{ExtractOptions{Owner: &Owner{}}, 0, 0},
		{ExtractOptions{KeepOwner: true}, 1234, 5678},
		{ExtractOptions{}, 0, 0}, // the caller: root here
	} {
		dst := t.TempDir()
		if err := Extract(tarOf(t, hdr()), dst, tc.opts); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dst, "f"))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != tc.uid || st.Gid != tc.gid {
			t.Errorf("%+v: owner %d:%d, want %d:%d", tc.opts, st.Uid, st.Gid, tc.uid, tc.gid)
		}
	}
}

func TestRebaseStream(t *testing.T) {
	t.Parallel()
	in := tarOf(t,
		&tar.Header{Name: "old/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "old/a", Typeflag: tar.TypeReg, Linkname: "a"},
		&tar.Header{Name: "old/h", Typeflag: tar.TypeLink, Linkname: "old/a"},
	)
	rc := Rebase(in, "old", "new")
	defer rc.Close()
	var hard string
	var got []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		if h.Typeflag == tar.TypeLink {
			hard = h.Linkname
		}
	}
	if strings.Join(got, " ") != "new/ new/a new/h" || hard != "new/a" {
		t.Errorf("rebased = %v (link %q)", got, hard)
	}
}
