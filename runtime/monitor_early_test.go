package runtime

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// chunked reads src a few bytes at a time, as a pipe may deliver it.
func chunked(src []byte, size int) func([]byte) (int, error) {
	r := bytes.NewReader(src)
	return func(b []byte) (int, error) {
		if len(b) > size {
			b = b[:size]
		}
		n, err := r.Read(b)
		if n == 0 && err != nil {
			return 0, nil // end of the pipe
		}
		return n, nil
	}
}

func TestMonitorArgsRoundTrip(t *testing.T) {
	id := strings.Repeat("ab", 32)
	msg, err := encodeMonitorArgs("/var/lib/berth", "/run/berth", id)
	if err != nil {
		t.Fatal(err)
	}
	// What follows the message (the orders) is not read.
	src := append(append([]byte{}, msg...), "start\n"...)
	for _, size := range []int{1, 3, 1 << 16} {
		rest := bytes.NewReader(src)
		read := func(b []byte) (int, error) {
			if len(b) > size {
				b = b[:size]
			}
			return rest.Read(b)
		}
		got, err := decodeMonitorArgs(read)
		if err != nil {
			t.Fatalf("read %d at a time: %v", size, err)
		}
		if want := []string{"/var/lib/berth", "/run/berth", id}; !reflect.DeepEqual(got, want) {
			t.Fatalf("read %d at a time: %q, want %q", size, got, want)
		}
		if left := rest.Len(); left != len("start\n") {
			t.Fatalf("read %d at a time: %d bytes left, want the orders' 6", size, left)
		}
	}
}

func TestMonitorArgsRefused(t *testing.T) {
	for _, tc := range []struct{ root, runRoot, id string }{
		{"", "/run/berth", "x"},
		{"/var/lib/berth", "", "x"},
		{"/var/lib/berth", "/run/berth", ""},
		{"/var/lib\x00/berth", "/run/berth", "x"},
		{strings.Repeat("/a", maxMonitorArgs), "/run/berth", "x"},
	} {
		if _, err := encodeMonitorArgs(tc.root, tc.runRoot, tc.id); err == nil {
			t.Errorf("encodeMonitorArgs(%q, %q, %q) succeeded", tc.root, tc.runRoot, tc.id)
		}
	}
	head := func(n uint32, body string) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, n), body...)
	}
	for name, src := range map[string][]byte{
		"nothing":       nil,
		"short header":  {3, 0},
		"short body":    head(10, "a\x00b\x00c"),
		"empty":         head(0, ""),
		"too long":      head(maxMonitorArgs+1, ""),
		"two parts":     head(3, "a\x00b"),
		"four parts":    head(7, "a\x00b\x00c\x00d"),
		"an empty part": head(4, "a\x00\x00c"),
	} {
		if args, err := decodeMonitorArgs(chunked(src, 2)); err == nil {
			t.Errorf("%s: decoded %q", name, args)
		}
	}
}
