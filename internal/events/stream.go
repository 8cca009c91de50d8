package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options select what Stream delivers.
type Options struct {
	// Since and Until bound the events replayed from the journal (zero: unbounded). With
	// neither set nothing is replayed, as with Docker; with Until set the stream ends then.
	Since, Until time.Time
	// Filter selects the events delivered.
	Filter Filter
	// Poll is the longest wait between two looks at the journal when following (default 1 s;
	// changes are normally seen at once through inotify).
	Poll time.Duration
}

// Stream delivers the events of the journal of runRoot to fn in the order they were recorded,
// as Docker's daemon streams them: first, when Since or Until is set, those already recorded
// between them; then, unless Until has passed, every event recorded from then on, until Until
// comes or ctx is done (which is no error). An error from fn ends the stream with it.
func Stream(ctx context.Context, runRoot string, o Options, fn func(*Message) error) error {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	since, until := int64(0), int64(0)
	if !o.Since.IsZero() {
		since = o.Since.UnixNano()
	}
	if !o.Until.IsZero() {
		until = o.Until.UnixNano()
	}
	replay := !o.Since.IsZero() || !o.Until.IsZero()
	onlyPast := !o.Until.IsZero() && o.Until.Before(time.Now())

	j := &journal{dir: runRoot}
	var wake <-chan struct{}
	if !onlyPast {
		// Watch before reading so that nothing recorded meanwhile is missed.
		if err := os.MkdirAll(runRoot, 0o711); err != nil {
			return err
		}
		w, err := watch(runRoot)
		if err == nil {
			defer w.Close()
			wake = w.wake
		} else if o.Poll > 200*time.Millisecond {
			o.Poll = 200 * time.Millisecond // no inotify: look more often
		}
	}
	deliver := func(m *Message) error {
		if o.Filter.Include(m) {
			return fn(m)
		}
		return nil
	}
	inRange := func(m *Message) error {
		if m.TimeNano < since || until != 0 && m.TimeNano > until {
			return nil
		}
		return deliver(m)
	}
	old, err := j.open()
	if err != nil {
		return err
	}
	if replay {
		if old != nil {
			err = readLines(old, nil, inRange)
			old.Close()
			if err != nil {
				j.close()
				return err
			}
		}
		err = j.read(inRange)
	} else {
		if old != nil {
			old.Close()
		}
		err = j.skip()
	}
	if err != nil || onlyPast {
		j.close()
		return err
	}
	defer j.close()

	var timeout <-chan time.Time
	if until != 0 {
		t := time.NewTimer(time.Until(o.Until))
		defer t.Stop()
		timeout = t.C
	}
	tick := time.NewTicker(o.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timeout:
			// What was recorded before Until and not read yet still belongs to the stream.
			return j.follow(func(m *Message) error {
				if m.TimeNano > until {
					return nil
				}
				return deliver(m)
			})
		case <-wake:
		case <-tick.C:
		}
		if err := j.follow(deliver); err != nil {
			return err
		}
	}
}

// journal reads the current journal file across rotations.
type journal struct {
	dir  string
	f    *os.File // the journal being read; nil while there is none
	ino  uint64
	tail []byte // a line not complete yet
}

func (j *journal) path() string { return filepath.Join(j.dir, FileName) }

// open opens the current journal (kept in j) and the rotated one (returned; nil when there is
// none), retrying when a rotation happens in between.
func (j *journal) open() (*os.File, error) {
	for try := 0; ; try++ {
		old, oldIno, err := openIno(filepath.Join(j.dir, RotatedName))
		if err != nil {
			return nil, err
		}
		cur, curIno, err := openIno(j.path())
		if err != nil {
			if old != nil {
				old.Close()
			}
			return nil, err
		}
		_, again, _ := statIno(filepath.Join(j.dir, RotatedName))
		if again == oldIno || try == 3 {
			j.f, j.ino = cur, curIno
			return old, nil
		}
		for _, f := range []*os.File{old, cur} {
			if f != nil {
				f.Close()
			}
		}
	}
}

func (j *journal) close() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// skip moves to the end of the current journal: only events recorded from now on are read.
func (j *journal) skip() error {
	if j.f == nil {
		return nil
	}
	_, err := j.f.Seek(0, io.SeekEnd)
	return err
}

// read delivers the complete lines of the current journal not read yet.
func (j *journal) read(fn func(*Message) error) error {
	if j.f == nil {
		return nil
	}
	return readLines(j.f, &j.tail, fn)
}

// follow reads what was appended since the last look, then moves on to a new journal file if
// the one being read was rotated away (or none existed yet).
func (j *journal) follow(fn func(*Message) error) error {
	if err := j.read(fn); err != nil {
		return err
	}
	exists, ino, err := statIno(j.path())
	if err != nil || !exists || (j.f != nil && ino == j.ino) {
		return err
	}
	// Rotated (or created): finish the old file, then the one rotated after it if it was rotated
	// twice since the last look, then read the new one from its start.
	if err := j.read(fn); err != nil {
		return err
	}
	if j.f != nil {
		mid, mino, err := openIno(filepath.Join(j.dir, RotatedName))
		if err != nil {
			return err
		}
		if mid != nil {
			if mino != j.ino && mino != ino {
				err = readLines(mid, nil, fn)
			}
			mid.Close()
			if err != nil {
				return err
			}
		}
	}
	j.close()
	j.tail = nil
	f, fino, err := openIno(j.path())
	if err != nil || f == nil {
		return err
	}
	j.f, j.ino = f, fino
	return j.read(fn)
}

// readLines decodes the JSON lines of f from its offset to its end. With tail, an incomplete
// last line is kept there for the next call (it is being written); without, it is dropped.
// Lines that do not decode (a crash in the middle of a write) are skipped.
func readLines(f *os.File, tail *[]byte, fn func(*Message) error) error {
	var pending []byte
	if tail != nil {
		pending = *tail
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				line := pending[:i]
				pending = pending[i+1:]
				var m Message
				if json.Unmarshal(line, &m) != nil {
					continue
				}
				if err := fn(&m); err != nil {
					return err
				}
			}
			pending = append([]byte(nil), pending...)
		}
		if errors.Is(err, io.EOF) || n == 0 && err == nil {
			break
		}
		if err != nil {
			return err
		}
	}
	if tail != nil {
		*tail = pending
	}
	return nil
}

// openIno opens path for reading with its inode number; a missing file is (nil, 0, nil).
func openIno(path string) (*os.File, uint64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Ino, nil
}

func statIno(path string) (bool, uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, 0, nil
		}
		return false, 0, err
	}
	return true, st.Ino, nil
}

// watcher wakes a follower when the journal changes (inotify on the runroot).
type watcher struct {
	f    *os.File
	wake chan struct{}
}

func watch(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Non-blocking: the runtime's poller serves Read, and Close ends it.
	w := &watcher{f: os.NewFile(uintptr(fd), "inotify"), wake: make(chan struct{}, 1)}
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	buf := make([]byte, 4096)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			name = bytes.TrimRight(name, "\x00")
			if string(name) == FileName || string(name) == RotatedName {
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

// Close stops the watcher.
func (w *watcher) Close() error { return w.f.Close() }
