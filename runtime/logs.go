package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// LogsOptions are logs' flags.
type LogsOptions struct {
	Follow     bool
	Timestamps bool
	// Tail is the number of lines from the end; negative means all.
	Tail  int
	Since time.Time
	Until time.Time
	// Stop, when closed, ends a follow.
	Stop <-chan struct{}
}

// Logs writes the container's json-file log to stdout and stderr, keeping the streams apart. With
// Follow it keeps reading until the container stops (or opts.Stop closes).
func (r *Runtime) Logs(id string, opts LogsOptions, stdout, stderr io.Writer) error {
	c, err := r.Get(id)
	if err != nil {
		return err
	}
	id = c.ID
	f, err := os.Open(r.Layout.LogPath(id))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("logs %s: %w", c.Name, err)
		}
		if !opts.Follow || !isActive(&c.State) {
			return nil
		}
		// Started but nothing written yet: wait for the file.
		for f == nil {
			if !r.stillRunning(id) {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
			f, _ = os.Open(r.Layout.LogPath(id))
		}
	}
	defer f.Close()
	emit := func(line []byte) bool {
		var e logLine
		if json.Unmarshal(line, &e) != nil {
			return true
		}
		t, _ := time.Parse(time.RFC3339Nano, e.Time)
		if !opts.Since.IsZero() && t.Before(opts.Since) {
			return true
		}
		if !opts.Until.IsZero() && t.After(opts.Until) {
			return false
		}
		w := stdout
		if e.Stream == "stderr" {
			w = stderr
		}
		if opts.Timestamps {
			io.WriteString(w, t.Format("2006-01-02T15:04:05.000000000Z07:00")+" ")
		}
		io.WriteString(w, e.Log)
		return true
	}
	br := bufio.NewReaderSize(f, 64*1024)
	if opts.Tail >= 0 {
		lines, err := tailLines(f, opts.Tail)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if !emit(l) {
				return nil
			}
		}
		br.Reset(f)
	}
	var partial []byte
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if err == nil {
				if len(partial) > 0 {
					line = append(partial, line...)
					partial = nil
				}
				if !emit(line) {
					return nil
				}
			} else {
				partial = append(partial, line...)
			}
		}
		if err == nil {
			continue
		}
		if err != io.EOF {
			return fmt.Errorf("logs %s: %w", c.Name, err)
		}
		if !opts.Follow {
			return nil
		}
		if !r.stillRunning(id) {
			// Drain what the monitor wrote before it recorded the exit.
			rest, _ := io.ReadAll(br)
			rest = append(partial, rest...)
			for _, l := range bytes.SplitAfter(rest, []byte("\n")) {
				if len(l) > 0 && !emit(l) {
					return nil
				}
			}
			return nil
		}
		select {
		case <-opts.Stop:
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *Runtime) stillRunning(id string) bool {
	c, err := r.Get(id)
	return err == nil && isActive(&c.State)
}

// tailLines returns the last n complete lines of f and leaves f positioned after them.
func tailLines(f *os.File, n int) ([][]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if n == 0 {
		_, err := f.Seek(size, io.SeekStart)
		return nil, err
	}
	const block = 64 * 1024
	var data []byte
	pos := size
	for pos > 0 && bytes.Count(data, []byte("\n")) <= n {
		step := int64(block)
		if pos < step {
			step = pos
		}
		pos -= step
		buf := make([]byte, step)
		if _, err := f.ReadAt(buf, pos); err != nil && err != io.EOF {
			return nil, err
		}
		data = append(buf, data...)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	if pos > 0 && len(lines) > 0 {
		lines = lines[1:] // the first is probably cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}
