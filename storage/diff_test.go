package storage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// tarSummary lists name -> type, link, content, mode, owner, device, mtime and xattrs of every
// entry of a tar. Modes of hardlinks and whiteout markers carry no meaning and are left out.
func tarSummary(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		mode := h.Mode
		if h.Typeflag == tar.TypeLink || strings.HasPrefix(path.Base(h.Name), whiteoutPrefix) {
			mode = 0
		}
		var xs []string
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, paxXattr) {
				xs = append(xs, k+"="+v)
			}
		}
		sort.Strings(xs)
		out[h.Name] = fmt.Sprintf("type=%c link=%q body=%q mode=%o uid=%d gid=%d dev=%d,%d mtime=%d xattrs=%v",
			h.Typeflag, h.Linkname, body, mode, h.Uid, h.Gid, h.Devmajor, h.Devminor, h.ModTime.Unix(), xs)
	}
}

// TestDiffRoundTrip applies a layer with every kind of entry, diffs the result back to a tar,
// and checks that the second tar describes exactly the first.
func TestDiffRoundTrip(t *testing.T) {
	requireRoot(t)
	owned := file("etc/owned", "data")
	owned.uid, owned.gid = 1000, 1001
	suid := file("bin/su", "#!")
	suid.mode = 0o4755
	xa := file("etc/cap", "x")
	xa.xattrs = map[string]string{"user.note": "kept", "trusted.thing": "t"}
	op := dir("opaque/")
	op.mode = 0o750
	ents := []ent{
		dir("bin/"), suid, hardlink("bin/su2", "bin/su"),
		dir("dev/"), chardev("dev/null", 1, 3), fifo("dev/pipe"),
		dir("etc/"), xa, owned, symlink("etc/link", "/etc/owned"),
		op, whiteoutEnt("opaque/.wh..wh..opq"), file("opaque/new", "n"),
		whiteoutEnt(".wh.removed"),
	}
	layer := mkTar(t, ents...)
	upper := t.TempDir()
	if _, err := Apply(upper, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Diff(upper, &out); err != nil {
		t.Fatal(err)
	}
	want, got := tarSummary(t, layer), tarSummary(t, out.Bytes())
	if !reflect.DeepEqual(want, got) {
		for k := range want {
			if want[k] != got[k] {
				t.Errorf("%s:\n  want %q\n  got  %q", k, want[k], got[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected entry %s: %q", k, got[k])
			}
		}
	}
	// And back again: the diff applies cleanly into a fresh folder.
	again := t.TempDir()
	if _, err := Apply(again, bytes.NewReader(out.Bytes())); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(again, "etc/owned")); err != nil || string(b) != "data" {
		t.Fatalf("etc/owned after round trip = %q, %v", b, err)
	}
}
