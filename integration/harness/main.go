package harness

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// Main is TestMain for the integration tests: it runs them, then stops every registry it
// started (also on SIGINT/SIGTERM), and exits with the tests' code.
//
//	func TestMain(m *testing.M) { harness.Main(m) }
func Main(m *testing.M) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "harness: %v: stopping test registries\n", sig)
		StopAll()
		os.Exit(130)
	}()
	code := m.Run()
	StopAll()
	os.Exit(code)
}
