package storage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func listDir(t *testing.T, p string) string {
	t.Helper()
	ents, err := os.ReadDir(p)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func isMountPoint(t *testing.T, p string) bool {
	t.Helper()
	var a, b unix.Stat_t
	if err := unix.Stat(p, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Dir(p), &b); err != nil {
		t.Fatal(err)
	}
	return a.Dev != b.Dev
}

// twoLayers stores a base layer and a top layer that deletes a file and replaces a folder.
func twoLayers(t *testing.T, s *Store) []string {
	t.Helper()
	base := mkTar(t, file("keep", "k"), file("gone", "g"), dir("d/"), file("d/old1", "1"), file("d/old2", "2"))
	top := mkTar(t, whiteoutEnt(".wh.gone"), dir("d/"), whiteoutEnt("d/.wh..wh..opq"), file("d/new", "n"), file("added", "a"))
	l1, err := s.ApplyLayer(v1.Hash{}, digestOf(base), bytes.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := s.ApplyLayer(l1.ChainID, digestOf(top), bytes.NewReader(top))
	if err != nil {
		t.Fatal(err)
	}
	return []string{s.LayerDir(l2.ChainID), s.LayerDir(l1.ChainID)}
}

// twoLayerStore makes a store in a temporary folder (returned) with twoLayers, as root.
func twoLayerStore(t *testing.T) (string, []string) {
	t.Helper()
	requireRoot(t)
	tmp := t.TempDir()
	s, err := Open(filepath.Join(tmp, "root"))
	if err != nil {
		t.Fatal(err)
	}
	return tmp, twoLayers(t, s)
}

func TestMountOverlay(t *testing.T) {
	tmp, lowers := twoLayerStore(t)
	c := filepath.Join(tmp, "container")
	upper, work, merged := filepath.Join(c, "upper"), filepath.Join(c, "work"), filepath.Join(c, "merged")
	if err := MountOverlay(lowers, upper, work, merged); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unmount(merged) })

	if got := listDir(t, merged); got != "added,d,keep" {
		t.Errorf("merged root = %s, want added,d,keep", got)
	}
	if got := listDir(t, filepath.Join(merged, "d")); got != "new" {
		t.Errorf("merged d = %s, want new (opaque)", got)
	}
	// Changes land in upper as a docker-style diff.
	if err := os.Remove(filepath.Join(merged, "keep")); err != nil {
		t.Fatal(err)
	}
	// A folder removed and made again is opaque in upper.
	if err := os.RemoveAll(filepath.Join(merged, "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(merged, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(merged, "d", "written"), []byte("w"), 0o640); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Diff(upper, &out); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "d/ d/.wh..wh..opq d/written .wh.keep" {
		t.Errorf("diff of upper = %q", got)
	}

	if err := Unmount(merged); err != nil {
		t.Fatal(err)
	}
	if isMountPoint(t, merged) {
		t.Fatal("still mounted after Unmount")
	}
	if err := Unmount(merged); err != nil {
		t.Fatalf("second Unmount: %v", err)
	}
	if err := Unmount(filepath.Join(tmp, "missing")); err != nil {
		t.Fatalf("Unmount of a missing folder: %v", err)
	}
}

func TestMountOverlayReadOnly(t *testing.T) {
	tmp, lowers := twoLayerStore(t)
	for _, tc := range []struct {
		name   string
		lowers []string
		want   string
	}{
		{"two lowers", lowers, "added,d,keep"},
		{"one lower", lowers[1:], "d,gone,keep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(tmp, strings.ReplaceAll(tc.name, " ", "-"))
			if err := MountOverlay(tc.lowers, "", "", target); err != nil {
				t.Fatal(err)
			}
			defer Unmount(target)
			if got := listDir(t, target); got != tc.want {
				t.Errorf("merged = %s, want %s", got, tc.want)
			}
			if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err == nil {
				t.Error("read-only mount is writable")
			}
		})
	}
}

// TestMountOverlayManyLayers mounts more lowers than fit in one page of mount options.
func TestMountOverlayManyLayers(t *testing.T) {
	requireRoot(t)
	tmp := t.TempDir()
	s, err := Open(filepath.Join(tmp, strings.Repeat("long-store-name-", 4)))
	if err != nil {
		t.Fatal(err)
	}
	var lowers []string
	parent := v1.Hash{}
	for i := 0; i < 40; i++ {
		data := mkTar(t, file(fmt.Sprintf("f%02d", i), "x"))
		l, err := s.ApplyLayer(parent, digestOf(data), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		parent = l.ChainID
		lowers = append([]string{s.LayerDir(l.ChainID)}, lowers...)
	}
	if n := len(overlayData(lowers, filepath.Join(tmp, "u"), filepath.Join(tmp, "w"), false)); n <= maxMountData {
		t.Fatalf("options only %d bytes: test does not exceed a page", n)
	}
	target := filepath.Join(tmp, "merged")
	if err := MountOverlay(lowers, filepath.Join(tmp, "u"), filepath.Join(tmp, "w"), target); err != nil {
		t.Fatal(err)
	}
	defer Unmount(target)
	ents, err := os.ReadDir(target)
	if err != nil || len(ents) != 40 {
		t.Fatalf("merged has %d entries, %v", len(ents), err)
	}
}

// mountOptions returns the superblock options of the mount at target, from mountinfo.
func mountOptions(t *testing.T, target string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == target {
			return f[len(f)-1]
		}
	}
	t.Fatalf("%s is not in mountinfo", target)
	return ""
}

// A volatile overlay (run --rm) works like any other and carries overlayfs's volatile option;
// a plain one does not.
func TestMountOverlayVolatile(t *testing.T) {
	tmp, lowers := twoLayerStore(t)
	for _, tc := range []struct {
		name  string
		mount func(lowers []string, upper, work, target string) error
		want  bool
	}{
		{"volatile", MountOverlayVolatile, true},
		{"plain", MountOverlay, false},
	} {
		c := filepath.Join(tmp, tc.name)
		upper, work, merged := filepath.Join(c, "upper"), filepath.Join(c, "work"), filepath.Join(c, "merged")
		if err := tc.mount(lowers, upper, work, merged); err != nil {
			t.Fatal(err)
		}
		opts := mountOptions(t, merged)
		// Linux 6.x shows fsync=volatile, 5.10 to 5.19 volatile.
		got := strings.Contains(","+opts+",", ",volatile,") || strings.Contains(","+opts+",", ",fsync=volatile,")
		if got != tc.want {
			t.Errorf("%s: options %q, want volatile %v", tc.name, opts, tc.want)
		}
		if err := os.WriteFile(filepath.Join(merged, "added"), []byte("w"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(upper, "added")); err != nil || string(got) != "w" {
			t.Errorf("%s: upper has %q, %v", tc.name, got, err)
		}
		if err := Unmount(merged); err != nil {
			t.Fatal(err)
		}
	}
}
