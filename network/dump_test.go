package network

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestRedump(t *testing.T) {
	other := errors.New("other")
	for _, tc := range []struct {
		name      string
		errs      []error // what each dump returns, in turn
		wantCalls int
		wantErr   error
	}{
		{"first dump whole", []error{nil}, 1, nil},
		{"interrupted once", []error{netlink.ErrDumpInterrupted, nil}, 2, nil},
		{"other error is returned at once", []error{other}, 1, other},
		{"always interrupted", []error{netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted, netlink.ErrDumpInterrupted, nil}, dumpRetries, netlink.ErrDumpInterrupted},
	} {
		calls := 0
		out, err := redump(func() ([]int, error) {
			err := tc.errs[calls]
			calls++
			return []int{calls}, err
		})
		if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) || out[0] != calls {
			t.Errorf("%s: %d calls, %v, %v; want %d calls, %v", tc.name, calls, out, err, tc.wantCalls, tc.wantErr)
		}
	}
}
