package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how much written data accumulates before its writeback to disk is started.
const writebackChunk = 8 << 20

// earlyWriter writes to a file and starts the disk writeback of every chunk as soon as it is
// written (sync_file_range without waiting), so the single sync that makes content durable at
// the end finds little left to do and disk work overlaps hashing and unpacking.
type earlyWriter struct {
	f       *os.File
	off     int64 // bytes written so far
	flushed int64 // bytes whose writeback has been started
	enabled bool
}

func (w *earlyWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.enabled && w.off-w.flushed >= writebackChunk {
		// Advisory: an error here only means the final sync does all the work.
		unix.SyncFileRange(int(w.f.Fd()), w.flushed, w.off-w.flushed, unix.SYNC_FILE_RANGE_WRITE)
		w.flushed = w.off
	}
	return n, err
}
