package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestWriteBlob(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("hello blob")
	h := digestOf(content)

	n, err := s.WriteBlob(h, bytes.NewReader(content))
	if err != nil || n != int64(len(content)) {
		t.Fatalf("WriteBlob = %d, %v", n, err)
	}
	if !s.HasBlob(h) {
		t.Fatal("HasBlob false after write")
	}
	rc, err := s.OpenBlob(h)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, content) {
		t.Fatalf("read back %q", got)
	}
	if want := filepath.Join(s.Root(), "blobs", "sha256", h.Hex); s.BlobPath(h) != want {
		t.Fatalf("BlobPath = %s, want %s", s.BlobPath(h), want)
	}
	// Already stored: the reader is not consumed.
	n, err = s.WriteBlob(h, errReader{})
	if err != nil || n != int64(len(content)) {
		t.Fatalf("second WriteBlob = %d, %v", n, err)
	}
	if all, err := s.Blobs(); err != nil || len(all) != 1 || all[0] != h {
		t.Fatalf("Blobs = %v, %v", all, err)
	}
	if err := s.DeleteBlob(h); err != nil {
		t.Fatal(err)
	}
	if s.HasBlob(h) {
		t.Fatal("blob still there after DeleteBlob")
	}
	if err := s.DeleteBlob(h); err != nil {
		t.Fatalf("deleting an absent blob: %v", err)
	}
	if _, err := s.OpenBlob(h); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("OpenBlob of absent blob: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

func TestWriteBlobBad(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := digestOf([]byte("expected"))
	tests := []struct {
		name string
		h    v1.Hash
		r    io.Reader
		want error
	}{
		{"wrong digest", good, strings.NewReader("something else"), ErrDigestMismatch},
		{"truncated stream", good, io.MultiReader(strings.NewReader("expe"), errReaderAfter{}), nil},
		{"path in hex", v1.Hash{Algorithm: "sha256", Hex: "../../etc/passwd"}, strings.NewReader("x"), errdefs.ErrInvalid},
		{"other algorithm", v1.Hash{Algorithm: "md5", Hex: strings.Repeat("a", 64)}, strings.NewReader("x"), errdefs.ErrInvalid},
		{"upper-case hex", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("A", 64)}, strings.NewReader("x"), errdefs.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.WriteBlob(tc.h, tc.r)
			if err == nil {
				t.Fatal("WriteBlob succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if s.HasBlob(tc.h) {
				t.Fatal("bad blob stored")
			}
			left, _ := os.ReadDir(filepath.Join(s.Root(), "blobs", "tmp"))
			stored, _ := os.ReadDir(filepath.Join(s.Root(), "blobs", "sha256"))
			if len(left) != 0 || len(stored) != 0 {
				t.Fatalf("leftovers: tmp %v, sha256 %v", left, stored)
			}
		})
	}
}

type errReaderAfter struct{}

func (errReaderAfter) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestWriteBlobConcurrent(t *testing.T) {
	root := t.TempDir()
	content := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	h := digestOf(content)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root) // separate Store values, as separate processes would have
			if err == nil {
				_, err = s.WriteBlob(h, bytes.NewReader(content))
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
	got, err := os.ReadFile(s.BlobPath(h))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("stored blob wrong: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "blobs", "tmp")); len(left) != 0 {
		t.Fatalf("temporaries left: %v", left)
	}
}

func TestBlobWriter(t *testing.T) {
	content := bytes.Repeat([]byte("pushed content "), 1000)
	h := digestOf(content)
	tests := []struct {
		name     string
		chunks   [][]byte
		commit   bool // Commit (else Close only)
		wantErr  error
		wantBlob bool
	}{
		{"whole", [][]byte{content}, true, nil, true},
		{"in pieces", [][]byte{content[:1], content[1:4000], content[4000:]}, true, nil, true},
		{"short", [][]byte{content[:100]}, true, ErrDigestMismatch, false},
		{"too long", [][]byte{content, []byte("x")}, true, ErrDigestMismatch, false},
		{"abandoned", [][]byte{content}, false, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			w, err := s.NewBlobWriter(h)
			if err != nil {
				t.Fatal(err)
			}
			if w.Stored() {
				t.Fatal("Stored() on an empty store")
			}
			for _, c := range tc.chunks {
				if n, err := w.Write(c); err != nil || n != len(c) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if s.HasBlob(h) {
				t.Fatal("blob visible before Commit")
			}
			if tc.commit {
				if cerr := w.Check(); !errors.Is(cerr, tc.wantErr) || (tc.wantErr == nil) != (cerr == nil) {
					t.Fatalf("Check = %v, want %v", cerr, tc.wantErr)
				}
				n, err := w.Commit()
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("Commit = %d, %v, want %v", n, err, tc.wantErr)
					}
				} else if err != nil || n != int64(len(content)) {
					t.Fatalf("Commit = %d, %v", n, err)
				}
			}
			w.Close()
			if s.HasBlob(h) != tc.wantBlob {
				t.Fatalf("HasBlob = %v, want %v", !tc.wantBlob, tc.wantBlob)
			}
			if left, _ := os.ReadDir(filepath.Join(s.Root(), "blobs", "tmp")); len(left) != 0 {
				t.Fatalf("temporaries left: %v", left)
			}
			// The lock is released: a new writer does not wait.
			w2, err := s.NewBlobWriter(h)
			if err != nil {
				t.Fatal(err)
			}
			if w2.Stored() != tc.wantBlob {
				t.Fatalf("second writer Stored() = %v", w2.Stored())
			}
			if tc.wantBlob {
				// Already stored: writes are discarded and Commit reports the stored size.
				if _, err := w2.Write([]byte("ignored")); err != nil {
					t.Fatal(err)
				}
				if n, err := w2.Commit(); err != nil || n != int64(len(content)) {
					t.Fatalf("Commit of a stored blob = %d, %v", n, err)
				}
			}
			w2.Close()
		})
	}
}
