// Package copyarchive holds what `berth cp` does on either side of a copy: Docker's path rules
// (a trailing "/" or "/." on a path, a missing destination created from its parent, a file
// renamed to the destination's name), the tar of a file or folder, and its safe extraction.
package copyarchive

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The errors of Docker's copy rules, worded as Docker words them.
var (
	// ErrNotDirectory is a destination whose parent is not a folder.
	ErrNotDirectory = errors.New("not a directory")
	// ErrDirNotExists is a destination asserted to be a folder ("dir/") that does not exist,
	// for a source that is a file.
	ErrDirNotExists = errors.New("no such directory")
	// ErrCannotCopyDir is a folder copied onto an existing file.
	ErrCannotCopyDir = errors.New("cannot copy directory")
)

// Info describes the source or the destination of a copy.
type Info struct {
	// Path is the path, symlinks resolved as far as the rules say, with a trailing "/" or "/."
	// of the path the user gave kept.
	Path string
	// Exists and IsDir tell what is at Path.
	Exists bool
	IsDir  bool
	// RebaseName, when set, is the name the copied entry takes instead of Path's last element
	// (a symlink source followed with -L keeps the link's name).
	RebaseName string
}

// PreserveTrailingDotOrSeparator returns cleaned (a cleaned form of original) with the trailing
// "/." or "/" of original added back: those say "the contents of" and "a folder".
func PreserveTrailingDotOrSeparator(cleaned, original string) string {
	if !specifiesCurrentDir(cleaned) && specifiesCurrentDir(original) {
		if !hasTrailingSeparator(cleaned) {
			cleaned += "/"
		}
		cleaned += "."
	}
	if !hasTrailingSeparator(cleaned) && hasTrailingSeparator(original) {
		cleaned += "/"
	}
	return cleaned
}

// AssertsDirectory tells whether p says it is a folder: it ends in "/" or "/.".
func AssertsDirectory(p string) bool { return hasTrailingSeparator(p) || specifiesCurrentDir(p) }

func hasTrailingSeparator(p string) bool { return len(p) > 0 && p[len(p)-1] == '/' }

func specifiesCurrentDir(p string) bool { return filepath.Base(p) == "." }

// SplitPathDirEntry splits p into its folder and its last element after cleaning it, keeping a
// final "." ("/a/b/." gives "/a/b" and ".").
func SplitPathDirEntry(p string) (dir, base string) {
	cleaned := filepath.Clean(p)
	if specifiesCurrentDir(p) {
		cleaned += "/."
	}
	return filepath.Dir(cleaned), filepath.Base(cleaned)
}

// EntryBase is the name the tar of p gives its top entry: the last element of p, or "." for
// "the contents of" (p ends in "/.", or is the root "/").
func EntryBase(p string) string {
	_, base := SplitPathDirEntry(p)
	if base == "/" {
		return "."
	}
	return base
}

// RebaseName is Docker's GetRebaseName: resolved is what path (a symlink) points to; it returns
// resolved with path's trailing "/" or "/." and, when the last element changed, path's last
// element as the name the copy must take.
func RebaseName(path, resolved string) (string, string) {
	if specifiesCurrentDir(path) && !specifiesCurrentDir(resolved) {
		resolved += "/."
	}
	if hasTrailingSeparator(path) && !hasTrailingSeparator(resolved) {
		resolved += "/"
	}
	if filepath.Base(path) != filepath.Base(resolved) {
		return resolved, filepath.Base(path)
	}
	return resolved, ""
}

// SourceInfo describes the local source path (absolute) of a copy into a container. Symlinks in
// its folders are resolved; the last element is followed only with followLink (-L), in which
// case the copy keeps the link's name.
func SourceInfo(path string, followLink bool) (Info, error) {
	var resolved, rebase string
	if followLink {
		r, err := filepath.EvalSymlinks(path)
		if err != nil {
			return Info{}, err
		}
		resolved, rebase = RebaseName(path, r)
	} else {
		dir, base := filepath.Split(path)
		rdir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return Info{}, err
		}
		resolved = strings.TrimSuffix(rdir, "/") + "/" + base
		if hasTrailingSeparator(path) && filepath.Base(path) != filepath.Base(resolved) {
			rebase = filepath.Base(path)
		}
	}
	st, err := os.Lstat(resolved)
	if err != nil {
		return Info{}, err
	}
	return Info{Path: resolved, Exists: true, IsDir: st.IsDir(), RebaseName: rebase}, nil
}

// DestinationInfo describes the local destination path (absolute) of a copy out of a
// container. A symlink at the destination is followed (the copy goes where it points); a
// destination that does not exist needs an existing parent folder.
func DestinationInfo(path string) (Info, error) {
	const maxLinks = 10
	st, err := os.Lstat(path)
	for n := 0; err == nil && st.Mode()&fs.ModeSymlink != 0; n++ {
		if n >= maxLinks {
			return Info{}, errors.New("too many symlinks in " + path)
		}
		target, rerr := os.Readlink(path)
		if rerr != nil {
			return Info{}, rerr
		}
		if !filepath.IsAbs(target) {
			parent, _ := SplitPathDirEntry(path)
			target = filepath.Join(parent, target)
		}
		path = target
		st, err = os.Lstat(path)
	}
	if err != nil {
		if !os.IsNotExist(err) {
			return Info{}, err
		}
		parent, _ := SplitPathDirEntry(path)
		pst, err := os.Stat(parent)
		if err != nil {
			return Info{}, err
		}
		if !pst.IsDir() {
			return Info{}, ErrNotDirectory
		}
		return Info{Path: path}, nil
	}
	return Info{Path: path, Exists: true, IsDir: st.IsDir()}, nil
}

// Plan is where and how a source's tar is extracted so that the copy lands where Docker's rules
// put it: the tar's top entry OldBase is renamed NewBase (no renaming when they are equal) and
// the tar is extracted in folder Dir.
type Plan struct {
	Dir              string
	OldBase, NewBase string
}

// Renames tells whether the tar's entries must be renamed.
func (p Plan) Renames() bool { return p.OldBase != p.NewBase }

// PlanCopy applies Docker's copy rules to a source and a destination:
//
//   - destination an existing folder: the source goes into it (its contents with "/.");
//   - destination an existing file: a file source replaces it, a folder source is an error;
//   - destination missing: it is created (from a folder source, as a folder with its contents),
//     unless it ends in "/" and the source is a file ("no such directory").
func PlanCopy(src, dst Info) (Plan, error) {
	dstDir, dstBase := SplitPathDirEntry(dst.Path)
	srcBase := EntryBase(src.Path)
	if src.RebaseName != "" {
		srcBase = src.RebaseName
	}
	switch {
	case dst.Exists && dst.IsDir:
		return Plan{Dir: dst.Path, OldBase: srcBase, NewBase: srcBase}, nil
	case dst.Exists && src.IsDir:
		return Plan{}, ErrCannotCopyDir
	case !dst.Exists && !src.IsDir && AssertsDirectory(dst.Path):
		return Plan{}, ErrDirNotExists
	}
	return Plan{Dir: dstDir, OldBase: srcBase, NewBase: dstBase}, nil
}
