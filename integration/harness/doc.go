// Package harness runs berth's end-to-end tests: it starts a private registry (Debian's
// docker-registry) on 127.0.0.1 with the fixture images pushed, gives each test its own --root
// and --runroot, runs the berth binary (BERTH_BINARY, default <repo>/bin/berth) as a user
// would, and cleans up after each test even when it fails (container processes, mounts,
// directories). It also has helpers that look for leaks: mounts, links and nft tables.
//
// Use it from package integration:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
//
//	func TestRun(t *testing.T) {
//		env := harness.New(t)
//		img := env.Pull("busybox")
//		out := env.MustRun("run", "--rm", img, "echo", "hi")
//		...
//	}
package harness
