//go:build linux && seccomp

package seccompcache

/*
#cgo pkg-config: libseccomp
#cgo LDFLAGS: -Wl,--wrap=seccomp_init -Wl,--wrap=seccomp_reset -Wl,--wrap=seccomp_release
#cgo LDFLAGS: -Wl,--wrap=seccomp_merge -Wl,--wrap=seccomp_arch_add -Wl,--wrap=seccomp_arch_remove
#cgo LDFLAGS: -Wl,--wrap=seccomp_attr_set -Wl,--wrap=seccomp_syscall_priority
#cgo LDFLAGS: -Wl,--wrap=seccomp_rule_add_array -Wl,--wrap=seccomp_rule_add_exact_array
#cgo LDFLAGS: -Wl,--wrap=seccomp_export_bpf -Wl,--wrap=seccomp_export_pfc -Wl,--wrap=seccomp_load
#cgo LDFLAGS: -Wl,--wrap=seccomp_attr_get -Wl,--wrap=seccomp_arch_exist
#include "cache.h"
*/
import "C"

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Supported tells whether this build caches seccomp programs.
const Supported = true

// Use makes dir the cache of this process; "" turns the cache off. The container init opens
// its cache by itself; Use is for tests and tools.
func Use(dir string) error {
	fd := -1
	if dir != "" {
		var err error
		fd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("seccomp cache %s: %w", dir, err)
		}
	}
	if old := int(C.berth_scmp_use(C.int(fd))); old >= 0 {
		unix.Close(old)
	}
	return nil
}

// Stats reports how many filter exports of this process came from the cache and how many were
// generated (and stored).
func Stats() (hits, misses uint64) {
	h, m, _ := stats()
	return h, m
}

// stats adds the hits served without making the filter's calls (tests).
func stats() (hits, misses, speculative uint64) {
	var h, m, s C.ulong
	C.berth_scmp_stats(&h, &m, &s)
	return uint64(h), uint64(m), uint64(s)
}

// cRelDir is the C side's idea of RelDir, for the test that keeps them equal.
func cRelDir() string { return C.BERTH_SCMP_REL }
