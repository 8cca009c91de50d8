package storage

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// removeStale deletes temporaries (half-written blobs, half-unpacked or half-removed layers)
// left by berth processes that died, as long as no live process holds the lock of the blob or
// layer they belong to. It is best effort: what cannot be removed now is retried next time.
func (s *Store) removeStale() {
	if ents, err := os.ReadDir(s.blobTmpDir()); err == nil {
		for _, e := range ents {
			hexPart, _, ok := strings.Cut(e.Name(), "-")
			if !ok {
				continue
			}
			s.removeIfUnlocked("blobs", hexPart, filepath.Join(s.blobTmpDir(), e.Name()))
		}
	}
	if ents, err := os.ReadDir(s.layersDir()); err == nil {
		for _, e := range ents {
			rest, ok := strings.CutPrefix(e.Name(), "tmp-")
			if !ok {
				continue
			}
			hexPart, _, ok := strings.Cut(rest, "-")
			if !ok {
				continue
			}
			s.removeIfUnlocked("layers", hexPart, filepath.Join(s.layersDir(), e.Name()))
		}
	}
}

// removeIfUnlocked removes p when the lock of area/hex is free (its writer is gone).
func (s *Store) removeIfUnlocked(area, hex, p string) {
	if len(hex) != 64 || strings.ContainsAny(hex, "/.") {
		return
	}
	f, err := os.OpenFile(filepath.Join(s.lockDir(area), hex), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return // EWOULDBLOCK: its writer is alive and still at work
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	os.RemoveAll(p)
}
