package storage

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/lock"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestChainID(t *testing.T) {
	a := digestOf([]byte("a"))
	b := digestOf([]byte("b"))
	if ChainID(v1.Hash{}, a) != a {
		t.Error("base layer chain ID is not its diff ID")
	}
	want := fmt.Sprintf("%x", sha256.Sum256([]byte(a.String()+" "+b.String())))
	if got := ChainID(a, b); got.Algorithm != "sha256" || got.Hex != want {
		t.Errorf("ChainID = %s, want sha256:%s", got, want)
	}
}

func TestApplyLayer(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := mkTar(t, dir("etc/"), file("etc/hostname", "base"))
	top := mkTar(t, dir("etc/"), file("etc/motd", "hello"))
	// Some writers pad past the end-of-archive blocks; the digest covers the padding too.
	top = append(top, make([]byte, 4096)...)
	baseID, topID := digestOf(base), digestOf(top)

	// The top layer first: layers of an image may be applied in any order.
	l2, err := s.ApplyLayer(baseID, topID, bytes.NewReader(top))
	if err != nil {
		t.Fatal(err)
	}
	l1, err := s.ApplyLayer(v1.Hash{}, baseID, bytes.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	if l1.ChainID != baseID || l1.Parent != (v1.Hash{}) || l1.Size != 4 {
		t.Errorf("base layer = %+v", l1)
	}
	if l2.ChainID != ChainID(baseID, topID) || l2.Parent != baseID || l2.DiffID != topID || l2.Size != 5 {
		t.Errorf("top layer = %+v", l2)
	}
	got, err := s.Layer(l2.ChainID)
	if err != nil || *got != *l2 {
		t.Fatalf("Layer = %+v, %v; want %+v", got, err, l2)
	}
	if got, err := s.Layer(l1.ChainID); err != nil || *got != *l1 {
		t.Fatalf("Layer = %+v, %v; want %+v", got, err, l1)
	}
	if b, err := os.ReadFile(filepath.Join(s.LayerDir(l2.ChainID), "etc/motd")); err != nil || string(b) != "hello" {
		t.Fatalf("motd = %q, %v", b, err)
	}
	if all, err := s.Layers(); err != nil || len(all) != 2 {
		t.Fatalf("Layers = %v, %v", all, err)
	}
	// Applying again returns the stored layer without reading the stream.
	if again, err := s.ApplyLayer(baseID, topID, errReader{}); err != nil || *again != *l2 {
		t.Fatalf("reapply = %+v, %v", again, err)
	}
	if err := s.RemoveLayer(l2.ChainID); err != nil {
		t.Fatal(err)
	}
	if s.HasLayer(l2.ChainID) || !s.HasLayer(l1.ChainID) {
		t.Fatal("RemoveLayer removed the wrong layer")
	}
	if _, err := s.Layer(l2.ChainID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Layer of removed layer: %v", err)
	}
	if err := s.RemoveLayer(l2.ChainID); err != nil {
		t.Fatalf("removing an absent layer: %v", err)
	}
	assertOnlyLayers(t, s, l1.ChainID.Hex)
}

// assertOnlyLayers checks that layers/ holds exactly the given layers (and the lock folder).
func assertOnlyLayers(t *testing.T, s *Store, hexes ...string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Root(), "layers"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{".locks": true}
	for _, h := range hexes {
		want[h] = true
	}
	for _, e := range ents {
		if !want[e.Name()] {
			t.Errorf("unexpected %s in layers/", e.Name())
		}
		delete(want, e.Name())
	}
	if len(want) != 0 {
		t.Errorf("missing from layers/: %v", want)
	}
}

func TestApplyLayerBad(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := mkTar(t, file("a", "b"))
	big := mkTar(t, file("big", string(bytes.Repeat([]byte("z"), 2000))))
	tests := []struct {
		name   string
		diffID v1.Hash
		data   []byte
		want   error
	}{
		{"wrong diff ID", digestOf([]byte("other")), good, ErrDigestMismatch},
		{"hostile entry", digestOf(mkTar(t, file("../x", "y"))), mkTar(t, file("../x", "y")), ErrUnsafeArchive},
		{"truncated tar", digestOf(big[:1000]), big[:1000], nil},
		{"malformed diff ID", v1.Hash{Algorithm: "sha256", Hex: "../../x"}, good, errdefs.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.ApplyLayer(v1.Hash{}, tc.diffID, bytes.NewReader(tc.data))
			if err == nil {
				t.Fatal("ApplyLayer succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			assertOnlyLayers(t, s)
		})
	}
}

func TestApplyLayerConcurrent(t *testing.T) {
	root := t.TempDir()
	var ents []ent
	for i := 0; i < 200; i++ {
		ents = append(ents, file(fmt.Sprintf("f%03d", i), string(bytes.Repeat([]byte{byte(i)}, 1000))))
	}
	data := mkTar(t, ents...)
	id := digestOf(data)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root)
			if err == nil {
				_, err = s.ApplyLayer(v1.Hash{}, id, bytes.NewReader(data))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := Open(root)
	assertOnlyLayers(t, s, id.Hex)
	if ents, _ := os.ReadDir(s.LayerDir(id)); len(ents) != 200 {
		t.Fatalf("layer has %d entries", len(ents))
	}
}

// TestOpenRemovesStale checks that temporaries of a crashed writer go at the next Open, but not
// while their writer holds its lock.
func TestOpenRemovesStale(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	dead := digestOf([]byte("dead")).Hex
	live := digestOf([]byte("live")).Hex
	staleLayer := filepath.Join(root, "layers", "tmp-"+dead+"-123")
	liveLayer := filepath.Join(root, "layers", "tmp-"+live+"-456")
	staleBlob := filepath.Join(root, "blobs", "tmp", dead+"-789")
	for _, d := range []string{filepath.Join(staleLayer, "diff"), liveLayer} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(staleBlob, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := lock.Acquire(filepath.Join(root, "layers", ".locks", live))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	if _, err := Open(s.Root()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{staleLayer, staleBlob} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s survived Open", p)
		}
	}
	if _, err := os.Lstat(liveLayer); err != nil {
		t.Errorf("temporary of a live writer removed: %v", err)
	}
}
