package storage

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
)

var (
	benchOnce  sync.Once
	benchEnts  []ent
	benchLayer []byte
	benchGzip  []byte
)

// syntheticLayer is a ~50 MB layer shaped like a real one: 50 folders, 2,500 small files of
// 4 KiB and 40 large files of 1 MiB, all incompressible, plus symlinks and hardlinks.
func syntheticLayer(b *testing.B) ([]byte, []byte) {
	benchOnce.Do(func() {
		rnd := rand.New(rand.NewSource(1))
		blob := func(n int) string {
			p := make([]byte, n)
			rnd.Read(p)
			return string(p)
		}
		var ents []ent
		for d := 0; d < 50; d++ {
			ents = append(ents, dir(fmt.Sprintf("usr/lib/d%02d/", d)))
			for f := 0; f < 50; f++ {
				ents = append(ents, file(fmt.Sprintf("usr/lib/d%02d/f%02d", d, f), blob(4096)))
			}
			ents = append(ents, symlink(fmt.Sprintf("usr/lib/d%02d/link", d), "f00"),
				hardlink(fmt.Sprintf("usr/lib/d%02d/hard", d), fmt.Sprintf("usr/lib/d%02d/f01", d)))
		}
		ents = append(ents, dir("opt/"))
		for f := 0; f < 40; f++ {
			ents = append(ents, file(fmt.Sprintf("opt/big%02d", f), blob(1<<20)))
		}
		benchEnts = append([]ent{dir("usr/"), dir("usr/lib/")}, ents...)
		benchLayer = mkTar(b, benchEnts...)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(benchLayer)
		zw.Close()
		benchGzip = gz.Bytes()
	})
	return benchLayer, benchGzip
}

func benchApply(b *testing.B, noSync, gzipped bool) {
	layer, gz := syntheticLayer(b)
	id := digestOf(layer)
	b.SetBytes(int64(len(layer)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, err := os.MkdirTemp(b.TempDir(), "store")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		s.NoSync = noSync
		var r io.Reader = bytes.NewReader(layer)
		b.StartTimer()
		if gzipped {
			rc, err := Decompress(bytes.NewReader(gz))
			if err != nil {
				b.Fatal(err)
			}
			r = rc
		}
		if _, err := s.ApplyLayer(v1.Hash{}, id, r); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(filepath.Clean(dir))
		b.StartTimer()
	}
}

// BenchmarkApplyLayer unpacks a ~50 MB uncompressed layer into an empty store, syncing the
// filesystem once before the layer becomes visible, as a pull does.
func BenchmarkApplyLayer(b *testing.B) { benchApply(b, false, false) }

// BenchmarkApplyLayerNoSync is BenchmarkApplyLayer without the final syncfs: the cost of the
// unpacking itself.
func BenchmarkApplyLayerNoSync(b *testing.B) { benchApply(b, true, false) }

// BenchmarkApplyLayerGzip inflates (klauspost gzip) and unpacks the same layer in one stream.
func BenchmarkApplyLayerGzip(b *testing.B) { benchApply(b, false, true) }

// BenchmarkApplyLayerBigFiles unpacks a 64 MB layer of four 16 MiB files: the throughput of
// hashing and writing, without the cost of creating many inodes.
func BenchmarkApplyLayerBigFiles(b *testing.B) { benchBig(b, false) }

// BenchmarkApplyLayerBigFilesNoSync is BenchmarkApplyLayerBigFiles without the final syncfs.
func BenchmarkApplyLayerBigFilesNoSync(b *testing.B) { benchBig(b, true) }

func benchBig(b *testing.B, noSync bool) {
	rnd := rand.New(rand.NewSource(2))
	var ents []ent
	for i := 0; i < 4; i++ {
		p := make([]byte, 16<<20)
		rnd.Read(p)
		ents = append(ents, file(fmt.Sprintf("big%d", i), string(p)))
	}
	layer := mkTar(b, ents...)
	id := digestOf(layer)
	b.SetBytes(int64(len(layer)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, _ := os.MkdirTemp(b.TempDir(), "store")
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		s.NoSync = noSync
		b.StartTimer()
		if _, err := s.ApplyLayer(v1.Hash{}, id, bytes.NewReader(layer)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

// BenchmarkApplyLayerParallel unpacks four different copies of the layer at once, as a pull
// of a multi-layer image does.
func BenchmarkApplyLayerParallel(b *testing.B) {
	layer, _ := syntheticLayer(b)
	variants := make([][]byte, 4)
	for i := range variants {
		variants[i] = mkTar(b, append([]ent{file(fmt.Sprintf("variant%d", i), "v")}, benchEnts...)...)
	}
	b.SetBytes(int64(4 * len(layer)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, _ := os.MkdirTemp(b.TempDir(), "store")
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var wg sync.WaitGroup
		errs := make([]error, len(variants))
		for j, v := range variants {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = s.ApplyLayer(v1.Hash{}, digestOf(v), bytes.NewReader(v))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

// BenchmarkPullPipeline does the storage side of pulling a 6-layer, ~300 MB image of
// incompressible files, as image.Pull does: each layer's gzip blob is streamed at once into
// WriteBlob and, through Decompress, into ApplyLayer, all layers in parallel.
func BenchmarkPullPipeline(b *testing.B)       { benchPull(b, false) }
func BenchmarkPullPipelineNoSync(b *testing.B) { benchPull(b, true) }

func benchPull(b *testing.B, noSync bool) {
	rnd := rand.New(rand.NewSource(3))
	type layer struct {
		blob, diff v1.Hash
		gz         []byte
	}
	var layers []layer
	var total int64
	for i := 0; i < 6; i++ {
		var ents []ent
		for f := 0; f < 13; f++ {
			p := make([]byte, 4<<20)
			rnd.Read(p)
			ents = append(ents, file(fmt.Sprintf("layer%d/file%02d", i, f), string(p)))
		}
		t := mkTar(b, ents...)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(t)
		zw.Close()
		layers = append(layers, layer{blob: digestOf(gz.Bytes()), diff: digestOf(t), gz: gz.Bytes()})
		total += int64(gz.Len())
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, _ := os.MkdirTemp(b.TempDir(), "store")
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		s.NoSync = noSync
		b.StartTimer()
		var wg sync.WaitGroup
		errs := make([]error, len(layers))
		parent := v1.Hash{}
		for j, l := range layers {
			p := parent
			parent = ChainID(parent, l.diff)
			wg.Add(1)
			// As pull does: one pass per layer, the blob hashed as it is read and inflated.
			go func() {
				defer wg.Done()
				d := sha256.New()
				src := io.TeeReader(bytes.NewReader(l.gz), d)
				rc, err := Decompress(src)
				if err == nil {
					_, err = s.ApplyLayer(p, l.diff, rc)
				}
				io.Copy(io.Discard, src)
				if err == nil && hexSum(d) != l.blob.Hex {
					err = ErrDigestMismatch
				}
				errs[j] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}
