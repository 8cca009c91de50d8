package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// snapshot records everything observable about the tree at top except the subtree skip.
func snapshot(t *testing.T, top, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d nlink=%d size=%d mtime=%d", st.Mode, st.Uid, st.Gid, st.Nlink, st.Size, st.Mtim.Nano())
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			b, _ := os.ReadFile(p)
			desc += " content=" + string(b)
		}
		sz, _ := unix.Llistxattr(p, nil)
		if sz > 0 {
			buf := make([]byte, sz)
			n, _ := unix.Llistxattr(p, buf)
			desc += " xattrs=" + string(buf[:n])
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestApplyMalicious applies crafted hostile layers into root, next to a sibling folder outside
// that holds a secret file and a folder, and checks that nothing outside root changed and that
// each layer was refused or confined inside root.
func TestApplyMalicious(t *testing.T) {
	type tc struct {
		name string
		ents func(outside string) []ent
		// wantErr: the layer must be refused (with ErrUnsafeArchive when unsafe is set).
		wantErr bool
		unsafe  bool
		// confined: paths (relative to root) that must exist afterwards, proving confinement.
		confined []string
		root     bool
	}
	tests := []tc{
		{name: "dotdot name", ents: func(o string) []ent { return []ent{file("../outside/escape", "x")} }, wantErr: true, unsafe: true},
		{name: "nested dotdot name", ents: func(o string) []ent { return []ent{dir("a/"), file("a/../../outside/escape", "x")} }, wantErr: true, unsafe: true},
		{name: "dotdot folder", ents: func(o string) []ent { return []ent{dir("../outside/newdir/")} }, wantErr: true, unsafe: true},
		{name: "absolute name", ents: func(o string) []ent { return []ent{file(o+"/escape", "x")} }, confined: []string{"OUT/escape"}},
		{name: "relative symlink parent", ents: func(o string) []ent {
			return []ent{symlink("evil", "../outside"), file("evil/escape", "x")}
		}, confined: []string{"outside/escape"}},
		{name: "absolute symlink parent", ents: func(o string) []ent {
			return []ent{symlink("evil", o), file("evil/escape", "x")}
		}, confined: []string{"OUT/escape"}},
		{name: "chained symlinks", ents: func(o string) []ent {
			return []ent{dir("d/"), symlink("a", "d/b"), symlink("d/b", "../c"), symlink("c", "../../../../../.."+o), file("a/escape", "x")}
		}, confined: []string{"OUT/escape"}},
		{name: "symlink to root then dotdot", ents: func(o string) []ent {
			return []ent{symlink("up", "/"), file("up/escape", "x"), symlink("up2", "up/.."), file("up2/escape2", "y")}
		}, confined: []string{"escape", "escape2"}},
		{name: "symlink replaced by folder", ents: func(o string) []ent {
			d := dir("d/")
			d.mode = 0o700
			return []ent{symlink("d", o), d, file("d/escape", "x")}
		}, confined: []string{"d/escape"}},
		{name: "file written over symlink to outside file", ents: func(o string) []ent {
			return []ent{symlink("f", o+"/secret"), file("f", "pwned")}
		}, confined: []string{"f"}},
		{name: "hardlink dotdot", ents: func(o string) []ent { return []ent{hardlink("hl", "../outside/secret")} }, wantErr: true, unsafe: true},
		{name: "hardlink absolute outside", ents: func(o string) []ent { return []ent{hardlink("hl", o+"/secret")} }, wantErr: true},
		{name: "hardlink through symlinked parent", ents: func(o string) []ent {
			return []ent{symlink("evil", o), hardlink("hl", "evil/secret")}
		}, wantErr: true},
		{name: "hardlink to symlink pointing out, then written", ents: func(o string) []ent {
			return []ent{symlink("s", o+"/secret"), hardlink("hl", "s"), file("hl", "pwned"), file("s", "pwned2")}
		}, confined: []string{"hl", "s"}},
		{name: "whiteout through symlinked parent", root: true, ents: func(o string) []ent {
			return []ent{symlink("evil", o), whiteoutEnt("evil/.wh.secret")}
		}, confined: []string{"OUT/secret"}},
		{name: "opaque marker through symlinked parent", root: true, ents: func(o string) []ent {
			return []ent{symlink("evil", o), whiteoutEnt("evil/.wh..wh..opq")}
		}, confined: []string{"OUT"}},
		{name: "device node through symlinked parent", root: true, ents: func(o string) []ent {
			return []ent{symlink("evil", o), chardev("evil/mem", 1, 1)}
		}, confined: []string{"OUT/mem"}},
		{name: "whiteout of dot", root: true, ents: func(o string) []ent { return []ent{whiteoutEnt("d/.wh..")} }, wantErr: true, unsafe: true},
		{name: "whiteout dotdot", root: true, ents: func(o string) []ent { return []ent{whiteoutEnt("../outside/.wh.secret")} }, wantErr: true, unsafe: true},
		{name: "symlink loop", ents: func(o string) []ent {
			return []ent{symlink("a", "b"), symlink("b", "a"), file("a/x", "x")}
		}, wantErr: true},
		{name: "folder later swapped for symlink out", ents: func(o string) []ent {
			d := dir("a/dir/")
			d.mode = 0o700
			return []ent{dir("a/"), d, symlink("a", o)}
		}, confined: []string{"a"}},
		{name: "layer root as a file", ents: func(o string) []ent { return []ent{file(".", "x")} }, wantErr: true, unsafe: true},
		{name: "hardlink to the root", ents: func(o string) []ent { return []ent{hardlink("hl", "/")} }, wantErr: true, unsafe: true},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			if c.root {
				requireRoot(t)
			}
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			outside := filepath.Join(parent, "outside")
			for _, d := range []string{root, filepath.Join(outside, "dir")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, parent, root)

			_, err := Apply(root, bytes.NewReader(mkTar(t, c.ents(outside)...)))

			if after := snapshot(t, parent, root); !reflect.DeepEqual(before, after) {
				t.Fatalf("outside changed:\nbefore %v\nafter  %v", before, after)
			}
			if c.wantErr {
				if err == nil {
					t.Fatal("hostile layer was accepted")
				}
				if c.unsafe && !errors.Is(err, ErrUnsafeArchive) {
					t.Fatalf("error %v is not ErrUnsafeArchive", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			for _, p := range c.confined {
				p = strings.Replace(p, "OUT", strings.TrimPrefix(outside, "/"), 1)
				if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
					t.Errorf("expected %s inside the layer: %v", p, err)
				}
			}
		})
	}
}
