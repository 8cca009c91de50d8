package harness

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// Main is TestMain for the integration tests: it runs them, then stops every registry it
// started, and exits with the tests' code. When the binary is interrupted (SIGINT, SIGTERM) or
// is about to hit its -test.timeout, it first cleans up every test still running (containers,
// mounts, directories), since no test cleanup would run after that.
//
//	func TestMain(m *testing.M) { harness.Main(m) }
func Main(m *testing.M) {
	flag.Parse()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "harness: %v: cleaning up the running tests and the registries\n", sig)
		CleanupAll()
		StopAll()
		os.Exit(130)
	}()
	if d := testTimeout(); d > 0 {
		margin := min(30*time.Second, d/10)
		time.AfterFunc(d-margin, func() {
			fmt.Fprintf(os.Stderr, "harness: the tests time out in %s: cleaning up the running tests\n", margin)
			CleanupAll()
			StopAll()
		})
	}
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// testTimeout is the value of -test.timeout (0: none).
func testTimeout() time.Duration {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	d, err := time.ParseDuration(f.Value.String())
	if err != nil {
		return 0
	}
	return d
}
