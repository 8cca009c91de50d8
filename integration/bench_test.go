package integration

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// The Go benchmarks of `go test -run '^$' -bench . ./integration` (make bench prints the same
// figures as medians, with targets). Each runs the binary as a user would.

func benchRun(b *testing.B, args ...string) {
	env := harness.New(b)
	img := env.Pull("busybox")
	full := append(append([]string{"run", "--rm"}, args...), img, "true")
	env.MustRun(full...) // warm up: network setup, page cache
	b.ResetTimer()
	for b.Loop() {
		env.MustRun(full...)
	}
}

// BenchmarkRunNetworkNone times `run --rm --network none busybox true`.
func BenchmarkRunNetworkNone(b *testing.B) { benchRun(b, "--network", "none") }

// BenchmarkRunBridge times `run --rm busybox true` on the default network.
func BenchmarkRunBridge(b *testing.B) { benchRun(b) }

// BenchmarkRunDetached times `run -d busybox sleep 1000` (the containers are removed afterwards).
func BenchmarkRunDetached(b *testing.B) {
	env := harness.New(b)
	img := env.Pull("busybox")
	var started []string
	b.Cleanup(func() {
		if len(started) > 0 {
			env.Run(append([]string{"rm", "-f"}, started...)...)
		}
	})
	started = append(started, strings.TrimSpace(env.MustRun("run", "-d", img, "sleep", "1000"))) // warm up
	b.ResetTimer()
	for b.Loop() {
		started = append(started, strings.TrimSpace(env.MustRun("run", "-d", img, "sleep", "1000")))
	}
}

// BenchmarkVersion times `version`: what every berth process (command, monitor, container init)
// pays to start.
func BenchmarkVersion(b *testing.B) {
	env := harness.New(b)
	env.MustRun("version")
	b.ResetTimer()
	for b.Loop() {
		env.MustRun("version")
	}
}

// BenchmarkExec times `exec CTR true`.
func BenchmarkExec(b *testing.B) {
	env := harness.New(b)
	img := env.Pull("busybox")
	id := strings.TrimSpace(env.MustRun("run", "-d", "--network", "none", img, "sleep", "1000"))
	b.Cleanup(func() { env.Run("rm", "-f", id) })
	env.MustRun("exec", id, "true")
	b.ResetTimer()
	for b.Loop() {
		env.MustRun("exec", id, "true")
	}
}

// BenchmarkPsA times `ps -a` with 100 created containers.
func BenchmarkPsA(b *testing.B) {
	env := harness.New(b)
	img := env.Pull("busybox")
	for i := 0; i < 100; i++ {
		env.MustRun("create", "--network", "none", img, "true")
	}
	b.ResetTimer()
	for b.Loop() {
		env.MustRun("ps", "-a")
	}
}

// BenchmarkPullBusybox times pulling busybox into a root that does not have it.
func BenchmarkPullBusybox(b *testing.B) {
	env := harness.New(b)
	img := env.Image("busybox")
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		env.Run("rmi", "-f", img)
		b.StartTimer()
		env.MustRun("pull", "-q", img)
	}
}
