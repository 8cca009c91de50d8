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
func shrinkMonitor() {
	debug.SetGCPercent(25)
	debug.FreeOSMemory()
	dropExecutablePages()
	trace.Mark("heap freed")
}

// dropExecutablePages unmaps the pages of the binary's code and read-only data that this process
// has mapped (MADV_DONTNEED on its read-only private mappings of /proc/self/exe). They stay in
// the page cache, shared with every other berth process, and the few that waiting runs are
// faulted back from there; the monitor's RSS stops counting the ~17 MB that building and starting
// the container touched (the kernel maps large page-cache folios whole). Writable mappings
// (.data, .bss) are left alone: dropping them would lose their contents. MADV_PAGEOUT would
// evict the pages from the page cache instead, and the next berth command would read them back
// from disk.
func dropExecutablePages() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// 00401000-00c29000 r-xp 00001000 fe:00 10018858   /usr/local/bin/berth
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[5]) != exe || f[1][1] != '-' || f[1][3] != 'p' {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
