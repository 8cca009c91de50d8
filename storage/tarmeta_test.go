package storage

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// sparseTar is a tar with one GNU sparse file, written by hand (archive/tar cannot).
func sparseTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// A PAX 1.0 sparse file: the map precedes the data in the content.
	body := "1\n0\n5\n" + strings.Repeat("\x00", 512-6) + "hello"
	h := &tar.Header{Name: "GNUSparseFile.0/sparse", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)),
		ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX,
		PAXRecords: map[string]string{"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
			"GNU.sparse.name": "sparse", "GNU.sparse.realsize": "4096"}}
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLayerTarRoundTrip unpacks tars of every shape and writes them again from the layer:
// byte for byte the same.
func TestLayerTarRoundTrip(t *testing.T) {
	requireRoot(t)
	big := strings.Repeat("0123456789abcdef", 300<<10/16) // past the recorder's raw flush size
	x := file("etc/xattr", "x")
	x.xattrs = map[string]string{"user.berth": "yes"}
	long := file(strings.Repeat("d/", 60)+"long-name-that-needs-pax", "deep")
	cases := []struct {
		name string
		tar  []byte
	}{
		{"empty", mkTar(t)},
		{"files", mkTar(t, dir("etc/"), file("etc/a", "aaa"), file("etc/empty", ""), file("big", big), x, long)},
		{"links and devices", mkTar(t, dir("bin/"), file("bin/busybox", "elf"), hardlink("bin/sh", "bin/busybox"),
			symlink("bin/ls", "busybox"), fifo("fifo"), chardev("null", 1, 3))},
		{"whiteouts", mkTar(t, dir("etc/"), whiteoutEnt("etc/.wh.gone"), whiteoutEnt("etc/.wh..wh..opq"), file("etc/new", "n"))},
		{"duplicate file", mkTar(t, file("a", "first"), file("a", "second"), file("b", "b"))},
		{"folder replaced by a file", mkTar(t, dir("d/"), file("d/x", "inside"), dir("d/e/"), file("d/e/y", "deeper"),
			file("d", "now a file"))},
		{"file replaced by a folder", mkTar(t, file("d", "file"), dir("d/"), file("d/x", "x"))},
		{"hardlink to a replaced file", mkTar(t, file("a", "old"), hardlink("b", "a"), file("a", "new"))},
		{"padding after the end", append(mkTar(t, file("a", "a")), make([]byte, 9216)...)},
		{"sparse file", sparseTar(t)},
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := digestOf(c.tar)
			if _, err := s.ApplyLayer(v1.Hash{}, id, bytes.NewReader(c.tar)); err != nil {
				t.Fatal(err)
			}
			rc, size, err := s.LayerTar(id)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if size != int64(len(c.tar)) || !bytes.Equal(got, c.tar) {
				t.Fatalf("LayerTar gave %d bytes (said %d), want the %d of the original", len(got), size, len(c.tar))
			}
		})
	}
}

// TestLayerTarChangedFiles: a layer whose files changed since it was unpacked is not passed off
// as its diff ID, and a symlink planted in it is not followed.
func TestLayerTarChangedFiles(t *testing.T) {
	requireRoot(t)
	tarball := mkTar(t, dir("etc/"), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), file("etc/motd", "hi"))
	id := digestOf(tarball)
	cases := []struct {
		name   string
		change func(diff string) error
		want   error
	}{
		{"content edited", func(diff string) error {
			return os.WriteFile(filepath.Join(diff, "etc/motd"), []byte("ho"), 0o644)
		}, ErrDigestMismatch},
		{"file shortened", func(diff string) error {
			return os.Truncate(filepath.Join(diff, "etc/passwd"), 3)
		}, nil},
		{"folder swapped for a symlink", func(diff string) error {
			if err := os.Rename(filepath.Join(diff, "etc"), filepath.Join(diff, "etc2")); err != nil {
				return err
			}
			return os.Symlink("/etc", filepath.Join(diff, "etc"))
		}, nil},
		{"tarmeta gone", func(diff string) error {
			return os.Remove(filepath.Join(filepath.Dir(diff), tarMetaFile))
		}, ErrNoTarMeta},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ApplyLayer(v1.Hash{}, id, bytes.NewReader(tarball)); err != nil {
				t.Fatal(err)
			}
			if err := c.change(s.LayerDir(id)); err != nil {
				t.Fatal(err)
			}
			rc, _, err := s.LayerTar(id)
			if err == nil {
				var got []byte
				got, err = io.ReadAll(rc)
				rc.Close()
				if strings.Contains(string(got), "root:x:0:0:root") && c.name == "folder swapped for a symlink" {
					t.Errorf("read through the planted symlink")
				}
			}
			if err == nil {
				t.Fatal("the changed layer was written as its diff ID")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
}
