// Package lock provides flock(2)-based file locks that serialise changes between berth processes.
package lock

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock is a held flock on a file. The zero value is not usable; get one with Acquire or AcquireShared.
type Lock struct {
	f *os.File
}

func acquire(path string, how int) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Acquire takes an exclusive lock on path (created if missing), waiting until it is free.
func Acquire(path string) (*Lock, error) { return acquire(path, unix.LOCK_EX) }

// AcquireShared takes a shared lock on path, waiting while someone holds it exclusively.
func AcquireShared(path string) (*Lock, error) { return acquire(path, unix.LOCK_SH) }

// Release drops the lock. It is safe to call on a nil Lock and more than once.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
	l.f = nil
}
