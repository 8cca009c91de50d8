package runtime

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/berth-project/berth/internal/trace"
	"golang.org/x/sys/unix"
)

// shrinkDelay is how long after the container's start the monitor gives its start-up heap back.
const shrinkDelay = 100 * time.Millisecond

// shrinkMonitor hands the Go heap left over from building and starting the container back to
// the kernel, so that an idle monitor keeps only what waiting needs, and drops its mappings of
// berth's code and read-only data.
func shrinkMonitor(l Layout) {
	debug.SetGCPercent(25)
	debug.FreeOSMemory()
	remapExecutable(l.sharedExeCopy())
	trace.Mark("heap freed")
}

// exeSegment is a read-only mapping of berth's own file (code, read-only data).
type exeSegment struct {
	start, end, offset uint64
	prot               int
}

// exeSegments lists this process's read-only private mappings of its own binary.
func exeSegments() []exeSegment {
	exe, err := os.Readlink(selfExe)
	if err != nil {
		return nil
	}
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	var segs []exeSegment
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// 00401000-00c29000 r-xp 00001000 fe:00 10018858   /usr/local/bin/berth
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[5]) != exe || len(f[1]) != 4 || f[1][1] != '-' || f[1][3] != 'p' {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		off, err3 := strconv.ParseUint(string(f[2]), 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || end <= start {
			continue
		}
		prot := unix.PROT_READ
		if f[1][2] == 'x' {
			prot |= unix.PROT_EXEC
		}
		segs = append(segs, exeSegment{start, end, off, prot})
	}
	return segs
}

// remapExecutable drops the pages of berth's code and read-only data that starting the container
// mapped. With copy (a byte-for-byte copy of the running binary on a tmpfs, see sharedExeCopy)
// each segment is mapped again, at the same address, from the copy: the same bytes, which the
// kernel then maps page by page as waiting touches them, instead of in the large folios of the
// original's page cache. Without it the pages are only unmapped (MADV_DONTNEED), and the first
// touch of each large folio maps it whole again. Writable mappings (.data, .bss) are left alone.
func remapExecutable(copy string) {
	segs := exeSegments()
	fd := -1
	if copy != "" {
		if f, err := unix.Open(copy, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			fd = f
			defer unix.Close(fd)
		}
	}
	for _, s := range segs {
		if fd >= 0 {
			_, _, errno := unix.Syscall6(unix.SYS_MMAP, uintptr(s.start), uintptr(s.end-s.start), uintptr(s.prot),
				uintptr(unix.MAP_PRIVATE|unix.MAP_FIXED), uintptr(fd), uintptr(s.offset))
			if errno == 0 {
				continue
			}
		}
		unix.Syscall(unix.SYS_MADVISE, uintptr(s.start), uintptr(s.end-s.start), unix.MADV_DONTNEED)
	}
}
