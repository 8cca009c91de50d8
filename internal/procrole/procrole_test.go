package procrole

import "testing"

func TestLibcontainerInit(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pipe string
		want bool
	}{
		{[]string{"berth", "init"}, "3", true},
		{[]string{"berth", "init"}, "", false}, // a container named init
		{[]string{"berth", "run", "init"}, "3", false},
		{[]string{"berth"}, "3", false},
	} {
		if got := LibcontainerInit(tc.args, tc.pipe); got != tc.want {
			t.Errorf("LibcontainerInit(%q, %q) = %v, want %v", tc.args, tc.pipe, got, tc.want)
		}
	}
}
