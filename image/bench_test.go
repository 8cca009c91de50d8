package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

// BenchmarkPullBig pulls a ~300 MB image of six incompressible gzip layers (the shape of the
// fixtures' big:latest) from an in-process registry into an empty store: it measures berth's
// own pipeline (download, verify, inflate, unpack; no sync when BERTH_BENCH_NOSYNC=1) without
// the cost of a separate registry process. `make bench` times the real thing.
func BenchmarkPullBig(b *testing.B) {
	img := empty.Image
	var total int64
	for i := 0; i < 6; i++ {
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		rng := rand.NewChaCha8([32]byte{byte(i + 1)})
		buf := make([]byte, 10<<20)
		for f := 0; f < 5; f++ {
			rng.Read(buf)
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("big/%d/file%d.bin", i, f), Mode: 0o644, Size: int64(len(buf)), Typeflag: tar.TypeReg})
			tw.Write(buf)
		}
		tw.Close()
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(tb.Bytes())
		zw.Close()
		total += int64(tb.Len())
		var err error
		data := gz.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			b.Fatal(err)
		}
		img, err = mutate.AppendLayers(img, l)
		if err != nil {
			b.Fatal(err)
		}
	}
	host := testRegistry(b, nil)
	push(b, host+"/big:latest", img)
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		dir, err := os.MkdirTemp("", "berth-bench-")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		s.storage.NoSync = os.Getenv("BERTH_BENCH_NOSYNC") == "1"
		b.StartTimer()
		if _, err := s.Pull(context.Background(), host+"/big:latest", PullOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}
