package heapwarm

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"unsafe"
)

func TestLongLived(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"berth"}, false},
		{[]string{"berth", "ps", "-a"}, false},
		{[]string{"berth", "init"}, false},
		{[]string{"berth", "__berth-monitor", "/var/lib/berth", "/run/berth", "id"}, true},
		{[]string{"berth", "__berth-monitor", "--pending", " "}, true},
		{[]string{"/sbin/docker-init", "--", "sh"}, true},
	} {
		if got := longLived(tc.args); got != tc.want {
			t.Errorf("longLived(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// The test binary imports the package: the heap's first 2 MB are one huge page, unless the
// kernel refused (no THP, an old kernel).
func TestHeapCollapsed(t *testing.T) {
	if collapseErr != 0 {
		t.Skipf("MADV_COLLAPSE: %v", collapseErr)
	}
	addr := uint64(uintptr(unsafe.Pointer(sink)))
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, l := range bytes.Split(data, []byte("\n")) {
		if f := bytes.Fields(l); len(f) > 0 && bytes.Contains(f[0], []byte("-")) && !bytes.HasSuffix(f[0], []byte(":")) {
			r := bytes.SplitN(f[0], []byte("-"), 2)
			lo, err1 := strconv.ParseUint(string(r[0]), 16, 64)
			hi, err2 := strconv.ParseUint(string(r[1]), 16, 64)
			in = err1 == nil && err2 == nil && lo <= addr && addr < hi
			continue
		}
		if in && bytes.HasPrefix(l, []byte("AnonHugePages:")) {
			var kb int
			fmt.Sscanf(string(bytes.TrimPrefix(l, []byte("AnonHugePages:"))), "%d", &kb)
			if kb < hugePage>>10 {
				t.Fatalf("heap mapping has %d kB of huge pages, want at least %d", kb, hugePage>>10)
			}
			return
		}
	}
	t.Fatalf("no smaps entry with AnonHugePages for %#x", addr)
}
