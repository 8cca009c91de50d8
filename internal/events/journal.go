// Package events keeps berth's event journal. With no daemon to hold Docker's in-memory event
// buffer, every berth process that changes a container, image, network or volume (the CLI
// commands and the containers' monitors) appends one JSON line per event to
// <runroot>/events.jsonl, and `berth events` replays and follows that file.
//
// Recording costs one open(O_APPEND), one write and one close: no lock and no fsync. Lines are
// written with a single write on a file opened with O_APPEND, which the kernel appends whole,
// so concurrent writers never interleave. The runroot is a tmpfs on most hosts, so the journal,
// like Docker's event buffer, does not survive a reboot. The writer whose line crosses a
// multiple of MaxSize renames the file to events.jsonl.1 (replacing the previous one), so the
// journal holds between one and two MaxSize of the latest events.
package events

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/events"
	"golang.org/x/sys/unix"
)

// Message is one event in Docker's API form, so that `--format '{{json .}}'` prints Docker's
// JSON.
type Message = events.Message

// Event types berth records, as Docker names them.
const (
	Container = events.ContainerEventType
	Image     = events.ImageEventType
	Network   = events.NetworkEventType
	Volume    = events.VolumeEventType
)

// FileName is the journal in the runroot; RotatedName holds the lines before the last rotation.
const (
	FileName    = "events.jsonl"
	RotatedName = FileName + ".1"
)

// MaxSize is the journal size at which it is rotated (a variable for tests).
var MaxSize int64 = 1 << 20

// Record appends an event of type typ to the journal of runRoot: action on the object id, with
// Docker's attributes attrs (nil for none). Time and scope are set as Docker's daemon sets them.
// Errors are dropped: an event that cannot be written must not fail what it describes.
func Record(runRoot string, typ events.Type, action events.Action, id string, attrs map[string]string) {
	if runRoot == "" {
		return
	}
	if attrs == nil {
		attrs = map[string]string{}
	}
	now := time.Now().UTC()
	m := Message{
		Type:     typ,
		Action:   action,
		Actor:    events.Actor{ID: id, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	}
	// The deprecated fields, filled for containers and images as Docker's daemon (API 1.51)
	// fills them.
	switch typ {
	case Container:
		m.ID, m.Status, m.From = id, string(action), attrs["image"] //nolint:staticcheck // Docker's JSON
	case Image:
		m.ID, m.Status = id, string(action) //nolint:staticcheck // Docker's JSON
	}
	line, err := json.Marshal(&m)
	if err != nil {
		return
	}
	appendLine(runRoot, append(line, '\n'))
}

// appendLine appends line to the journal with one write and rotates the journal when the line
// crossed a multiple of MaxSize.
func appendLine(runRoot string, line []byte) error {
	path := filepath.Join(runRoot, FileName)
	const flags = unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_CLOEXEC
	fd, err := unix.Open(path, flags, 0o600)
	if err == unix.ENOENT {
		// A command that ran before anything made the runroot (an image command on a fresh host).
		if err := os.MkdirAll(runRoot, 0o711); err != nil {
			return err
		}
		fd, err = unix.Open(path, flags, 0o600)
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, line)
	if err != nil {
		return err
	}
	// With O_APPEND the offset is the end of this very line, whatever others appended since.
	end, err := unix.Seek(fd, 0, io.SeekCurrent)
	if err == nil && crosses(end-int64(n), end, MaxSize) {
		rotate(fd, path)
	}
	return nil
}

// crosses tells whether the bytes [start, end) reach into a new multiple of size: exactly one
// line of a file does, so exactly one writer rotates it.
func crosses(start, end, size int64) bool {
	return size > 0 && start/size != end/size
}

// rotate renames the journal at path to RotatedName if it is still the file fd (a writer that
// crossed the boundary of a file already rotated leaves the new one alone).
func rotate(fd int, path string) {
	var open, named unix.Stat_t
	if unix.Fstat(fd, &open) != nil || unix.Stat(path, &named) != nil {
		return
	}
	if open.Ino == named.Ino && open.Dev == named.Dev {
		unix.Rename(path, filepath.Join(filepath.Dir(path), RotatedName))
	}
}
