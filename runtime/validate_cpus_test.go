package runtime

import (
	"strings"
	"testing"
)

func TestCheckCpuset(t *testing.T) {
	tests := []struct {
		list, available string
		want            string // substring of the error; "" for none
	}{
		{"", "0-1", ""},
		{"0", "0-1", ""},
		{"0-1", "0-1", ""},
		{"1,0", "0-1", ""},
		{"7", "0-1", "Requested CPUs are not available - requested 7, available: 0-1"},
		{"0-2", "0-1", "Requested CPUs are not available - requested 0-2, available: 0-1"},
		{"x", "0-1", "Invalid value x for cpuset cpus: invalid format: x"},
		{"3-1", "0-3", "Invalid value 3-1 for cpuset cpus: invalid range format: 3-1"},
		{"5", "", ""},
	}
	for _, tc := range tests {
		err := checkCpuset(tc.list, "cpus", "CPUs", tc.available)
		if tc.want == "" {
			if err != nil {
				t.Errorf("checkCpuset(%q, %q) = %v", tc.list, tc.available, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkCpuset(%q, %q) = %v, want %q", tc.list, tc.available, err, tc.want)
		}
	}
}
