package storage

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"
)

// A layer's tar is not kept once unpacked: its file "tarmeta" keeps what the unpacked files do
// not hold (every header, padding and end block, byte for byte) and, in order, which file holds
// the content of each regular entry, so that LayerTar can write the exact tar again, the one
// whose sha256 is the layer's diff ID (for save and push). Docker's overlay2 driver does the
// same with tar-split. The file is gzip over a stream of records:
//
//	"berth-tarmeta/1\n"
//	'M' uvarint(n) n bytes      raw bytes of the tar
//	'F' uvarint(n) path uvarint(size)   size bytes of content from diff/path
//	'K' uvarint(k)              the content of F record k was moved to kept/k
//
// A file whose content a later entry of the same tar replaces (a duplicate name, a folder
// replaced by a file...) is moved aside to kept/ rather than deleted, so its bytes stay.
const (
	tarMetaFile  = "tarmeta"
	tarMetaMagic = "berth-tarmeta/1\n"
	keptDir      = "kept"
)

// tarRecorder sits between a layer tar and the tar reader that unpacks it, and writes the
// layer's tarmeta: bytes read outside a file's content are raw bytes; a file's content is a
// reference to where the applier wrote it.
type tarRecorder struct {
	r       io.Reader
	dir     string // the layer folder (holding diff/ and kept/)
	f       *os.File
	zw      *gzip.Writer
	pending bytes.Buffer // raw bytes not yet written as an 'M' record
	inFile  bool
	fileN   int64 // content bytes read for the current 'F' record
	fileRel string
	files   int            // 'F' records so far
	live    map[string]int // path in diff/ -> its 'F' record, while the content is there
	err     error
}

func newTarRecorder(r io.Reader, dir string) (*tarRecorder, error) {
	f, err := os.OpenFile(filepath.Join(dir, tarMetaFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		f.Close()
		return nil, err
	}
	t := &tarRecorder{r: r, dir: dir, f: f, zw: zw, live: map[string]int{}}
	t.pending.WriteString(tarMetaMagic) // written as is, before any record
	t.flushRaw(false)
	return t, nil
}

func (t *tarRecorder) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		if t.inFile {
			t.fileN += int64(n)
		} else {
			t.pending.Write(p[:n])
			if t.pending.Len() >= 256<<10 {
				t.flushRaw(true)
			}
		}
	}
	return n, err
}

// flushRaw writes the pending bytes, as an 'M' record when record is set.
func (t *tarRecorder) flushRaw(record bool) {
	if t.pending.Len() == 0 || t.err != nil {
		t.pending.Reset()
		return
	}
	if record {
		t.writeHead('M', uint64(t.pending.Len()))
	}
	if t.err == nil {
		_, t.err = t.zw.Write(t.pending.Bytes())
	}
	t.pending.Reset()
}

func (t *tarRecorder) writeHead(kind byte, n uint64) {
	var b [1 + binary.MaxVarintLen64]byte
	b[0] = kind
	k := binary.PutUvarint(b[1:], n)
	if t.err == nil {
		_, t.err = t.zw.Write(b[:1+k])
	}
}

// beginFile says that what the tar reader reads next is the content of the file it writes at
// rel (a path inside diff/ without symlinks).
func (t *tarRecorder) beginFile(rel string) {
	t.flushRaw(true)
	t.inFile, t.fileN, t.fileRel = true, 0, rel
}

// endFile closes the current content: an 'F' record.
func (t *tarRecorder) endFile() {
	t.inFile = false
	t.writeHead('F', uint64(len(t.fileRel)))
	if t.err == nil {
		_, t.err = io.WriteString(t.zw, t.fileRel)
	}
	var b [binary.MaxVarintLen64]byte
	if t.err == nil {
		_, t.err = t.zw.Write(b[:binary.PutUvarint(b[:], uint64(t.fileN))])
	}
	t.live[t.fileRel] = t.files
	t.files++
}

// evict is called before the entry at rel (inside diff/) is removed: the contents recorded
// there, or below it for a folder, move to kept/ so they stay available. It reports whether
// rel itself was moved (and so needs no removal).
func (t *tarRecorder) evict(rel string, dir bool) (bool, error) {
	move := func(p string, k int) error {
		if err := os.MkdirAll(filepath.Join(t.dir, keptDir), 0o700); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(t.dir, "diff", p), filepath.Join(t.dir, keptDir, strconv.Itoa(k))); err != nil {
			return fmt.Errorf("keep the content of %s: %w", p, err)
		}
		delete(t.live, p)
		t.flushRaw(true)
		t.writeHead('K', uint64(k))
		return nil
	}
	if k, ok := t.live[rel]; ok {
		return true, move(rel, k)
	}
	if dir {
		for p, k := range t.live {
			if strings.HasPrefix(p, rel+"/") {
				if err := move(p, k); err != nil {
					return false, err
				}
			}
		}
	}
	return false, nil
}

// finish reads what follows the archive's end (padding that the diff ID covers) and completes
// the tarmeta file.
func (t *tarRecorder) finish() error {
	if _, err := io.CopyBuffer(io.Discard, t, make([]byte, 64<<10)); err != nil {
		t.f.Close()
		return err
	}
	t.flushRaw(true)
	if t.err == nil {
		t.err = t.zw.Close()
	}
	if err := t.f.Close(); t.err == nil {
		t.err = err
	}
	if t.err != nil {
		return fmt.Errorf("write %s: %w", tarMetaFile, t.err)
	}
	return nil
}

// abort closes the tarmeta file after a failure (the layer folder is then removed).
func (t *tarRecorder) abort() { t.f.Close() }

// tarPiece is one record of a tarmeta file, as read back.
type tarPiece struct {
	raw  int64  // bytes of tar to copy from the tarmeta stream ('M')
	path string // or: the file holding the next content ('F', already redirected to kept/)
	size int64
}

// tarMetaReader reads the records of a tarmeta file.
type tarMetaReader struct {
	zr *gzip.Reader
	br *bufio.Reader
}

func openTarMeta(layerDir string) (*os.File, *tarMetaReader, error) {
	f, err := os.Open(filepath.Join(layerDir, tarMetaFile))
	if err != nil {
		return nil, nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", tarMetaFile, err)
	}
	r := &tarMetaReader{zr: zr, br: bufio.NewReaderSize(zr, 64<<10)}
	magic := make([]byte, len(tarMetaMagic))
	if _, err := io.ReadFull(r.br, magic); err != nil || string(magic) != tarMetaMagic {
		f.Close()
		return nil, nil, fmt.Errorf("read %s: not a tarmeta file", tarMetaFile)
	}
	return f, r, nil
}

var errBadTarMeta = errors.New("corrupt tarmeta file")

// next returns the next record's kind and number (length, record index); io.EOF at the end.
func (r *tarMetaReader) next() (byte, uint64, error) {
	kind, err := r.br.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	n, err := binary.ReadUvarint(r.br)
	if err != nil {
		return 0, 0, errBadTarMeta
	}
	switch kind {
	case 'M', 'F', 'K':
		return kind, n, nil
	}
	return 0, 0, errBadTarMeta
}

// tarPlan reads a layer's tarmeta file once and returns the exact tar's size and the index of
// 'F' records whose content was moved to kept/.
func tarPlan(layerDir string) (size int64, kept map[uint64]bool, err error) {
	f, r, err := openTarMeta(layerDir)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	kept = map[uint64]bool{}
	for {
		kind, n, err := r.next()
		if err == io.EOF {
			return size, kept, nil
		}
		if err != nil {
			return 0, nil, err
		}
		switch kind {
		case 'M':
			if _, err := r.br.Discard(int(n)); err != nil {
				return 0, nil, errBadTarMeta
			}
			size += int64(n)
		case 'F':
			if _, err := r.br.Discard(int(n)); err != nil {
				return 0, nil, errBadTarMeta
			}
			fs, err := binary.ReadUvarint(r.br)
			if err != nil {
				return 0, nil, errBadTarMeta
			}
			size += int64(fs)
		case 'K':
			kept[n] = true
		}
	}
}

// ErrNoTarMeta is wrapped by LayerTar's error for a layer stored without its tarmeta file (by
// an older berth): its tar cannot be written again.
var ErrNoTarMeta = errors.New("the layer's tar was not recorded when it was unpacked")

// LayerTar returns the exact uncompressed tar the layer with this chain ID was unpacked from,
// and its size. The tar is made again from the layer's tarmeta file and its files, and hashed
// as it is read: when it does not come out with the layer's diff ID (its files were changed),
// the last Read fails with an error wrapping ErrDigestMismatch instead of io.EOF.
func (s *Store) LayerTar(chainID v1.Hash) (io.ReadCloser, int64, error) {
	l, err := s.Layer(chainID)
	if err != nil {
		return nil, 0, err
	}
	dir := s.layerPath(chainID)
	size, kept, err := tarPlan(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("layer %s: %w", chainID, ErrNoTarMeta)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("layer %s: %w", chainID, err)
	}
	f, r, err := openTarMeta(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("layer %s: %w", chainID, err)
	}
	diffFd, err := unix.Open(filepath.Join(dir, "diff"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("layer %s: %w", chainID, err)
	}
	return &layerTar{meta: f, r: r, dir: dir, diffFd: diffFd, kept: kept, want: l.DiffID, size: size,
		d: sha256.New(), chain: chainID}, size, nil
}

// layerTar is LayerTar's reader.
type layerTar struct {
	meta   *os.File
	r      *tarMetaReader
	dir    string
	diffFd int
	kept   map[uint64]bool
	chain  v1.Hash
	want   v1.Hash
	size   int64
	d      hash.Hash
	n      int64 // bytes returned so far
	raw    int64 // bytes left of the current 'M' record
	file   *os.File
	left   int64 // bytes left of the current file's content
	path   string
	files  uint64 // 'F' records seen
	err    error
}

func (t *layerTar) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	for t.raw == 0 && t.file == nil {
		if err := t.nextRecord(); err != nil {
			t.err = err
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if t.raw > 0 {
		if int64(len(p)) > t.raw {
			p = p[:t.raw]
		}
		n, err = io.ReadFull(t.r.br, p)
		t.raw -= int64(n)
		if err != nil {
			err = errBadTarMeta
		}
	} else {
		if int64(len(p)) > t.left {
			p = p[:t.left]
		}
		n, err = t.file.Read(p)
		t.left -= int64(n)
		if err == io.EOF && t.left > 0 || err != nil && err != io.EOF {
			err = fmt.Errorf("%s is shorter than when it was unpacked", t.path)
		} else {
			err = nil
		}
		if t.left == 0 {
			t.file.Close()
			t.file = nil
		}
	}
	t.d.Write(p[:n])
	t.n += int64(n)
	if err != nil {
		t.err = fmt.Errorf("layer %s: %w", t.chain, err)
		return n, t.err
	}
	return n, nil
}

// nextRecord moves to the next record with bytes to give; io.EOF (or a digest error) at the end.
func (t *layerTar) nextRecord() error {
	kind, n, err := t.r.next()
	if err == io.EOF {
		if got := hexSum(t.d); got != t.want.Hex || t.n != t.size {
			return fmt.Errorf("layer %s: %w: its files make a tar with sha256:%s, not its diff ID %s",
				t.chain, ErrDigestMismatch, got, t.want)
		}
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", t.chain, err)
	}
	switch kind {
	case 'M':
		t.raw = int64(n)
	case 'F':
		name := make([]byte, n)
		if _, err := io.ReadFull(t.r.br, name); err != nil {
			return fmt.Errorf("layer %s: %w", t.chain, errBadTarMeta)
		}
		size, err := binary.ReadUvarint(t.r.br)
		if err != nil {
			return fmt.Errorf("layer %s: %w", t.chain, errBadTarMeta)
		}
		k := t.files
		t.files++
		if size == 0 {
			return nil
		}
		t.path = string(name)
		var f *os.File
		if t.kept[k] {
			f, err = os.OpenFile(filepath.Join(t.dir, keptDir, strconv.FormatUint(k, 10)), os.O_RDONLY|unix.O_NOFOLLOW, 0)
		} else {
			f, err = openBeneath(t.diffFd, t.path)
		}
		if err != nil {
			return fmt.Errorf("layer %s: content of %s: %w", t.chain, t.path, err)
		}
		t.file, t.left = f, int64(size)
	}
	return nil
}

// openBeneath opens rel inside the folder dirFd for reading, refusing any symlink on the way:
// the path was recorded free of symlinks.
func openBeneath(dirFd int, rel string) (*os.File, error) {
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(dirFd, rel, &how)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	return os.NewFile(uintptr(fd), rel), nil
}

func (t *layerTar) Close() error {
	if t.file != nil {
		t.file.Close()
		t.file = nil
	}
	if t.diffFd >= 0 {
		unix.Close(t.diffFd)
		t.diffFd = -1
	}
	return t.meta.Close()
}
