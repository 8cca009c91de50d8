package copyarchive

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPreserveTrailingDotOrSeparator(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ cleaned, original, want string }{
		{"/a/b", "/a/b", "/a/b"},
		{"/a/b", "/a/b/", "/a/b/"},
		{"/a/b", "/a/b/.", "/a/b/."},
		{"/a/b", "a/b//", "/a/b/"},
		{"/", "/.", "/."},
		{"/", "/", "/"},
		{"/a/b/.", "/a/b/.", "/a/b/."},
	} {
		if got := PreserveTrailingDotOrSeparator(tc.cleaned, tc.original); got != tc.want {
			t.Errorf("PreserveTrailingDotOrSeparator(%q, %q) = %q, want %q", tc.cleaned, tc.original, got, tc.want)
		}
	}
}

func TestSplitAndEntryBase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ p, dir, base, entry string }{
		{"/a/b", "/a", "b", "b"},
		{"/a/b/", "/a", "b", "b"},
		{"/a/b/.", "/a/b", ".", "."},
		{"/", "/", "/", "."},
		{"/.", "/", ".", "."},
		{"b", ".", "b", "b"},
	} {
		dir, base := SplitPathDirEntry(tc.p)
		if dir != tc.dir || base != tc.base {
			t.Errorf("SplitPathDirEntry(%q) = %q, %q, want %q, %q", tc.p, dir, base, tc.dir, tc.base)
		}
		if e := EntryBase(tc.p); e != tc.entry {
			t.Errorf("EntryBase(%q) = %q, want %q", tc.p, e, tc.entry)
		}
	}
}

func TestRebaseName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, resolved, wantPath, wantName string }{
		{"/link", "/target", "/target", "link"},
		{"/link/", "/target", "/target/", "link"},
		{"/link/.", "/target", "/target/.", ""},
		{"/same", "/x/same", "/x/same", ""},
	} {
		p, n := RebaseName(tc.path, tc.resolved)
		if p != tc.wantPath || n != tc.wantName {
			t.Errorf("RebaseName(%q, %q) = %q, %q, want %q, %q", tc.path, tc.resolved, p, n, tc.wantPath, tc.wantName)
		}
	}
}

func TestPlanCopy(t *testing.T) {
	t.Parallel()
	file := Info{Path: "/src/f.txt", Exists: true}
	dir := Info{Path: "/src/d", Exists: true, IsDir: true}
	contents := Info{Path: "/src/d/.", Exists: true, IsDir: true}
	link := Info{Path: "/src/target", Exists: true, RebaseName: "link"}
	for _, tc := range []struct {
		name     string
		src, dst Info
		want     Plan
		err      error
	}{
		{"file into dir", file, Info{Path: "/dst", Exists: true, IsDir: true}, Plan{"/dst", "f.txt", "f.txt"}, nil},
		{"file onto file", file, Info{Path: "/dst/g.txt", Exists: true}, Plan{"/dst", "f.txt", "g.txt"}, nil},
		{"file to new name", file, Info{Path: "/dst/new"}, Plan{"/dst", "f.txt", "new"}, nil},
		{"file to new dir/", file, Info{Path: "/dst/new/"}, Plan{}, ErrDirNotExists},
		{"file to new dir/.", file, Info{Path: "/dst/new/."}, Plan{}, ErrDirNotExists},
		{"dir into dir", dir, Info{Path: "/dst", Exists: true, IsDir: true}, Plan{"/dst", "d", "d"}, nil},
		{"dir onto file", dir, Info{Path: "/dst/g.txt", Exists: true}, Plan{}, ErrCannotCopyDir},
		{"dir to new name", dir, Info{Path: "/dst/new"}, Plan{"/dst", "d", "new"}, nil},
		{"dir to new name/", dir, Info{Path: "/dst/new/"}, Plan{"/dst", "d", "new"}, nil},
		{"contents into dir", contents, Info{Path: "/dst", Exists: true, IsDir: true}, Plan{"/dst", ".", "."}, nil},
		{"contents to new dir", contents, Info{Path: "/dst/new"}, Plan{"/dst", ".", "new"}, nil},
		{"followed link into dir", link, Info{Path: "/dst", Exists: true, IsDir: true}, Plan{"/dst", "link", "link"}, nil},
		{"followed link to new name", link, Info{Path: "/dst/n"}, Plan{"/dst", "link", "n"}, nil},
	} {
		got, err := PlanCopy(tc.src, tc.dst)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("%s: PlanCopy = %+v, %v, want %+v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestRenameEntry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, old, new, want string }{
		{"a", "a", "b", "b"},
		{"a/", "a", "b", "b/"},
		{"a/x/y", "a", "b", "b/x/y"},
		{"ab/x", "a", "b", "ab/x"},
		{"./", ".", "new", "new/"},
		{"./x", ".", "new", "new/x"},
		{"d/x", "d", ".", "x"},
		{"d/", "d", ".", "./"},
		{"x", "x", "x", "x"},
	} {
		if got := RenameEntry(tc.name, tc.old, tc.new); got != tc.want {
			t.Errorf("RenameEntry(%q, %q, %q) = %q, want %q", tc.name, tc.old, tc.new, got, tc.want)
		}
	}
}

func TestSourceAndDestinationInfo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "f"), "x")
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d", filepath.Join(dir, "dlink")); err != nil {
		t.Fatal(err)
	}

	// Without -L a symlink source is the link itself; with -L its target under the link's name.
	si, err := SourceInfo(filepath.Join(dir, "link"), false)
	if err != nil || si.Path != filepath.Join(dir, "link") || si.IsDir || si.RebaseName != "" {
		t.Errorf("SourceInfo(link) = %+v, %v", si, err)
	}
	si, err = SourceInfo(filepath.Join(dir, "link"), true)
	if err != nil || si.Path != filepath.Join(dir, "f") || si.RebaseName != "link" {
		t.Errorf("SourceInfo(link, -L) = %+v, %v", si, err)
	}
	if _, err := SourceInfo(filepath.Join(dir, "nope"), false); !os.IsNotExist(err) {
		t.Errorf("SourceInfo(nope) error = %v, want not exist", err)
	}

	for _, tc := range []struct {
		p     string
		want  Info
		isErr bool
	}{
		{filepath.Join(dir, "d"), Info{Path: filepath.Join(dir, "d"), Exists: true, IsDir: true}, false},
		{filepath.Join(dir, "dlink"), Info{Path: filepath.Join(dir, "d"), Exists: true, IsDir: true}, false},
		{filepath.Join(dir, "new"), Info{Path: filepath.Join(dir, "new")}, false},
		{filepath.Join(dir, "nope", "new"), Info{}, true},
		{filepath.Join(dir, "f", "new"), Info{}, true},
	} {
		got, err := DestinationInfo(tc.p)
		if (err != nil) != tc.isErr || got != tc.want {
			t.Errorf("DestinationInfo(%q) = %+v, %v; want %+v (error %v)", tc.p, got, err, tc.want, tc.isErr)
		}
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
