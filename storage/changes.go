package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ChangeKind is the kind of a Change, numbered as Docker's API numbers them.
type ChangeKind int

// The kinds of change, as Docker's container changes API numbers them.
const (
	ChangeModify ChangeKind = 0
	ChangeAdd    ChangeKind = 1
	ChangeDelete ChangeKind = 2
)

// String is the letter `docker diff` prints: C, A or D.
func (k ChangeKind) String() string {
	switch k {
	case ChangeAdd:
		return "A"
	case ChangeDelete:
		return "D"
	default:
		return "C"
	}
}

// Change is one changed path ("/etc/passwd") of a container's filesystem.
type Change struct {
	Path string
	Kind ChangeKind
}

// DiffOptions tune DiffWith.
type DiffOptions struct {
	// Skip leaves out the entry at rel (relative to the upper folder, "etc/hosts"), and
	// everything beneath it when it is a folder.
	Skip func(rel string) bool
}

// Changes lists what the overlay upper folder upperDir changes in the image whose layer folders
// are lowerDirs (top layer first), as Docker's overlay2 driver reports it for `docker diff`: a
// whiteout is a deletion (D); an opaque folder that hides a folder of the image is a deletion
// of that folder, and what it holds is added; anything else is an addition (A), or a
// modification (C) when the image has that path. A folder present in the image with the same
// mode, owner and modification time is not reported itself, but the parent of an addition or
// deletion always is. Entries come in the order of a walk, names sorted in each folder. skip,
// when set, leaves out paths (relative, "etc/hosts") that are not the container's changes (the
// targets of the runtime's own mounts): a folder holding such a target is compared without its
// modification time, which creating the target changed.
func Changes(lowerDirs []string, upperDir string, skip func(rel string) bool) ([]Change, error) {
	c := &changer{lowers: lowerDirs, upper: filepath.Clean(upperDir), skip: skip, changedDirs: map[string]bool{}}
	err := filepath.WalkDir(c.upper, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == c.upper {
			return nil
		}
		rel := strings.TrimPrefix(p, c.upper+"/")
		if skip != nil && skip(rel) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return c.entry(rel, p)
	})
	if err != nil {
		return nil, fmt.Errorf("changes of %s: %w", upperDir, err)
	}
	return c.out, nil
}

type changer struct {
	lowers      []string
	upper       string
	skip        func(rel string) bool
	changedDirs map[string]bool // "/etc": a change or the parent of one is recorded
	opaque      []string        // "/app/dir/": opaque folders seen, whose content is all new
	out         []Change
}

func (c *changer) entry(rel, p string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	name := "/" + rel
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	ch := Change{Path: name, Kind: ChangeAdd}
	switch {
	case isWhiteout(&st):
		ch.Kind = ChangeDelete
	case c.underOpaque(name):
		// Within a folder that replaced the image's one: everything is new.
	default:
		lower, err := c.lowerStat(rel)
		if err != nil {
			return err
		}
		opaque := false
		if isDir {
			v, err := getXattr(p, opaqueXattr)
			if err != nil {
				return err
			}
			opaque = v == "y"
		}
		switch {
		case opaque:
			c.opaque = append(c.opaque, name+"/")
			if lower != nil {
				ch.Kind = ChangeDelete
			}
		case lower != nil:
			if isDir && lower.Mode&unix.S_IFMT == unix.S_IFDIR && sameDir(&st, lower, c.holdsSkipped(rel, p)) {
				return nil // copied up only because something beneath it changed
			}
			ch.Kind = ChangeModify
		}
	}
	if isDir {
		c.changedDirs[name] = true
	}
	if ch.Kind != ChangeModify {
		if parent := path.Dir(name); parent != "/" && !c.changedDirs[parent] {
			c.out = append(c.out, Change{Path: parent, Kind: ChangeModify})
			c.changedDirs[parent] = true
		}
	}
	c.out = append(c.out, ch)
	return nil
}

// underOpaque tells whether name lies inside an opaque folder of the upper layer.
func (c *changer) underOpaque(name string) bool {
	for _, o := range c.opaque {
		if strings.HasPrefix(name, o) {
			return true
		}
	}
	return false
}

// holdsSkipped tells whether the upper folder p (at rel) directly holds a skipped entry.
func (c *changer) holdsSkipped(rel, p string) bool {
	if c.skip == nil {
		return false
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if c.skip(rel + "/" + e.Name()) {
			return true
		}
	}
	return false
}

// lowerStat returns the stat of rel in the image (the union of the lower layers, whiteouts and
// opaque folders applied), or nil when the image has no such path.
func (c *changer) lowerStat(rel string) (*unix.Stat_t, error) {
	return LowerStat(c.lowers, rel)
}

// LowerStat returns the stat of rel (relative, "etc/passwd") in the union of the overlay layer
// folders lowerDirs (top layer first), whiteouts and opaque folders applied, not following a
// final symlink; nil when the union has no such path.
func LowerStat(lowerDirs []string, rel string) (*unix.Stat_t, error) {
	parts := strings.Split(rel, "/")
	for _, l := range lowerDirs {
		// Walk down this layer: a whiteout or a non-folder on the way hides the path in the
		// layers below; an opaque folder on the way hides the layers below too.
		dir := l
		hidden := false
		for i, part := range parts {
			p := filepath.Join(dir, part)
			var st unix.Stat_t
			err := unix.Lstat(p, &st)
			if errors.Is(err, unix.ENOENT) {
				break
			}
			if err != nil {
				return nil, err
			}
			if isWhiteout(&st) {
				return nil, nil
			}
			if i == len(parts)-1 {
				return &st, nil
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return nil, nil
			}
			if v, err := getXattr(p, opaqueXattr); err != nil {
				return nil, err
			} else if v == "y" {
				hidden = true
			}
			dir = p
		}
		if hidden {
			// The path is not in this layer, and an opaque folder above it hides the rest.
			return nil, nil
		}
	}
	return nil, nil
}

// sameDir tells whether two folders look unchanged: mode, owner, size and modification time
// (not the time when ignoreTime).
func sameDir(a, b *unix.Stat_t, ignoreTime bool) bool {
	if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid {
		return false
	}
	if ignoreTime {
		return true
	}
	if a.Size != b.Size {
		return false
	}
	// As Docker: equal, or equal seconds when one side has no nanoseconds.
	if a.Mtim.Sec != b.Mtim.Sec {
		return false
	}
	return a.Mtim.Nsec == b.Mtim.Nsec || a.Mtim.Nsec == 0 || b.Mtim.Nsec == 0
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// getXattr returns the extended attribute name of p (not following symlinks), "" when unset.
func getXattr(p, name string) (string, error) {
	buf := make([]byte, 64)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		switch {
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
			return "", nil
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, len(buf)*4)
			continue
		case err != nil:
			return "", fmt.Errorf("getxattr %s %s: %w", p, name, err)
		}
		return string(buf[:n]), nil
	}
}
