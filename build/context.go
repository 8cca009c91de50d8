package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/storage"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context: the folder COPY and ADD read from, with the .dockerignore rules
// that hide parts of it.
type Context struct {
	// Dir is the context's folder.
	Dir string
	// Size is what docker's client would send to its daemon: the size of the context's tar.
	Size int64

	pm      *patternmatcher.PatternMatcher // nil: nothing excluded
	cleanup string                         // a folder to remove at Close
}

// OpenDir opens the folder dir as a build context and reads its .dockerignore.
func OpenDir(dir string) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	if !fi.IsDir() {
		return nil, errdefs.Invalid(fmt.Sprintf("unable to prepare context: context must be a directory: %s", dir))
	}
	c := &Context{Dir: abs}
	if f, err := os.Open(filepath.Join(abs, ".dockerignore")); err == nil {
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("error reading .dockerignore: %w", err)
		}
		if len(patterns) > 0 {
			if c.pm, err = patternmatcher.New(patterns); err != nil {
				return nil, errdefs.Invalid(fmt.Sprintf("error checking context: %v", err))
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("error reading .dockerignore: %w", err)
	}
	if c.Size, err = c.tarSize(); err != nil {
		return nil, fmt.Errorf("error checking context: %w", err)
	}
	return c, nil
}

// FromReader reads a build context given on standard input (docker build -): a tar, plain or
// compressed, unpacked into a new folder under tmpDir; or, when it is not a tar, a Dockerfile
// alone with an empty context. dockerfile is the Dockerfile's contents in the second case, nil
// in the first.
func FromReader(r io.Reader, tmpDir string) (c *Context, dockerfile []byte, err error) {
	dr, err := storage.Decompress(r)
	if err != nil {
		return nil, nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	defer dr.Close()
	br := bufio.NewReaderSize(dr, 1<<16)
	head, _ := br.Peek(512)
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp(tmpDir, "build-context-")
	if err != nil {
		return nil, nil, err
	}
	c = &Context{Dir: dir, cleanup: dir}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if !isTar(head) {
		dockerfile, err = io.ReadAll(br)
		if err != nil {
			return nil, nil, fmt.Errorf("unable to read the Dockerfile from stdin: %w", err)
		}
		// docker's client sends such a Dockerfile as a tar of that one file.
		c.Size = 512 + (int64(len(dockerfile))+511)&^511 + 1024
		return c, dockerfile, nil
	}
	cr := &countingReader{r: br}
	if _, err := storage.Apply(dir, cr); err != nil {
		return nil, nil, fmt.Errorf("unable to unpack the build context: %w", err)
	}
	c.Size = cr.n
	return c, nil, nil
}

// isTar tells whether head, a stream's first 512 bytes, is a tar header.
func isTar(head []byte) bool {
	if len(head) < 512 {
		return false
	}
	_, err := tar.NewReader(bytes.NewReader(head)).Next()
	return err == nil || errors.Is(err, io.ErrUnexpectedEOF)
}

// Close removes what the context unpacked.
func (c *Context) Close() error {
	if c == nil || c.cleanup == "" {
		return nil
	}
	err := os.RemoveAll(c.cleanup)
	c.cleanup = ""
	return err
}

// ReadFile reads the file rel of the context (the Dockerfile), refusing paths that leave it.
func (c *Context) ReadFile(rel string) ([]byte, error) {
	p, err := c.path(rel)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// path returns the host path of rel inside the context, with symlinks resolved inside it.
func (c *Context) path(rel string) (string, error) {
	return secureJoin(c.Dir, rel)
}

// Excluded tells whether .dockerignore hides rel (a slash-separated path inside the context).
func (c *Context) Excluded(rel string) bool {
	if c.pm == nil {
		return false
	}
	rel = filepath.ToSlash(filepath.Clean(rel))
	if rel == "." || rel == "" {
		return false
	}
	m, err := c.pm.MatchesOrParentMatches(rel)
	return err == nil && m
}

// tarSize computes the size of the tar that docker's client would send: every entry not
// excluded, each as a tar header plus its contents rounded up to 512-byte blocks, and the two
// zero blocks at the end.
func (c *Context) tarSize() (int64, error) {
	cw := &countingWriter{}
	tw := tar.NewWriter(cw)
	var data int64
	err := filepath.WalkDir(c.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(c.Dir, p)
		if err != nil || rel == "." {
			return err
		}
		if c.Excluded(rel) {
			if d.IsDir() && !c.pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil // sockets and the like are not sent
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		size := hdr.Size
		hdr.Size = 0
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		data += (size + 511) &^ 511
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return cw.n + data, nil
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

type countingReader struct {
	r io.Reader
	n int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// cleanRel turns a COPY source into a path relative to its root: leading "/" and "./" go.
func cleanRel(p string) string {
	p = filepath.FromSlash(p)
	p = strings.TrimPrefix(p, string(os.PathSeparator))
	p = strings.TrimPrefix(p, "."+string(os.PathSeparator))
	return p
}
