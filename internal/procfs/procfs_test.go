package procfs

import (
	"os"
	"testing"
)

func TestStartTime(t *testing.T) {
	self := StartTime(os.Getpid())
	if self == 0 {
		t.Fatal("StartTime(self) = 0")
	}
	if again := StartTime(os.Getpid()); again != self {
		t.Errorf("StartTime(self) changed: %d then %d", self, again)
	}
	for _, pid := range []int{0, -1, 1 << 30} {
		if got := StartTime(pid); got != 0 {
			t.Errorf("StartTime(%d) = %d, want 0", pid, got)
		}
	}
}
