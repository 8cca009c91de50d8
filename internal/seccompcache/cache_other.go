//go:build !linux || !seccomp

package seccompcache

import "errors"

// Supported tells whether this build caches seccomp programs.
const Supported = false

// Use reports that this build has no seccomp cache.
func Use(dir string) error {
	if dir == "" {
		return nil
	}
	return errors.New("seccomp cache: berth was built without seccomp")
}

// Stats reports no cache use.
func Stats() (hits, misses uint64) { return 0, 0 }
