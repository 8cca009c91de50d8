package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// DefaultTimeout bounds every command that Env runs unless Env.Timeout says otherwise.
var DefaultTimeout = 2 * time.Minute

// Result is what one berth command did.
type Result struct {
	Stdout string
	Stderr string
	Code   int // exit code; -1 when it was killed by a signal or did not start
}

// String describes r for failure messages.
func (r Result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Env is one test's berth installation: its own root and runroot, removed when the test ends.
type Env struct {
	T       testing.TB
	Binary  string        // the berth binary
	Root    string        // --root (BERTH_ROOT)
	RunRoot string        // --runroot (BERTH_RUNROOT), short so that socket paths fit
	Timeout time.Duration // per command; DefaultTimeout when zero

	mu        sync.Mutex
	env       map[string]string
	procs     []*Proc
	ptys      []*PTYProc
	once      sync.Once   // cleanup runs once: at the test's end or in an emergency
	emergency atomic.Bool // cleaning up from outside the test: log to stderr, not to T
	// tmpfsRunRoot: the runroot is a tmpfs mounted by MountTmpfsRunRoot.
	tmpfsRunRoot atomic.Bool
}

var (
	liveMu   sync.Mutex
	liveEnvs = map[*Env]bool{} // Envs not cleaned up yet, for CleanupAll
)

// logf logs to the test, or to stderr when the cleanup runs outside it.
func (e *Env) logf(format string, args ...any) {
	if e.emergency.Load() {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		return
	}
	e.T.Logf(format, args...)
}

// CleanupAll cleans up every Env whose test has not ended yet (harness.Main calls it when the
// test binary is interrupted or about to time out, since then no test cleanup would run).
func CleanupAll() {
	liveMu.Lock()
	var envs []*Env
	for e := range liveEnvs {
		envs = append(envs, e)
	}
	liveMu.Unlock()
	for _, e := range envs {
		e.emergency.Store(true)
		e.cleanup()
	}
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root")
	}
}

// Binary returns the berth binary under test: $BERTH_BINARY, or <repo>/bin/berth.
func Binary() (string, error) {
	p := os.Getenv("BERTH_BINARY")
	if p == "" {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			return "", errors.New("cannot locate the repository: set BERTH_BINARY")
		}
		p = filepath.Join(filepath.Dir(file), "..", "..", "bin", "berth")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("berth binary %q: %w", p, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("berth binary %s missing (run `make build` or set BERTH_BINARY): %w", abs, err)
	}
	if st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("berth binary %s is not executable", abs)
	}
	return abs, nil
}

// New makes an Env for tb: it skips unless root, fails if the binary is missing, and creates a
// fresh root and runroot. At cleanup it kills the container and monitor processes of that root
// (by PID), unmounts everything under both directories and removes them.
func New(tb testing.TB) *Env {
	tb.Helper()
	RequireRoot(tb)
	bin, err := Binary()
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	root, err := os.MkdirTemp(tempBase(), "berth-root-")
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	// The runroot is kept short: <runroot>/containers/<64 hex>/attach.sock must fit in the
	// 108 bytes of a unix socket address.
	runroot, err := os.MkdirTemp("/tmp", "bR")
	if err != nil {
		os.RemoveAll(root)
		tb.Fatalf("harness: %v", err)
	}
	e := &Env{T: tb, Binary: bin, Root: root, RunRoot: runroot, env: map[string]string{}}
	liveMu.Lock()
	liveEnvs[e] = true
	liveMu.Unlock()
	tb.Cleanup(e.cleanup)
	return e
}

func tempBase() string {
	if d := os.Getenv("BERTH_TEST_TMPDIR"); d != "" {
		return d
	}
	return os.TempDir()
}

// Setenv sets an environment variable for every later command of e.
func (e *Env) Setenv(key, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.env[key] = value
}

// Environ is the environment berth commands run with: the test's own, PATH, BERTH_ROOT,
// BERTH_RUNROOT and whatever Setenv added.
func (e *Env) Environ() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "BERTH_ROOT" || k == "BERTH_RUNROOT" {
			continue
		}
		if _, over := e.env[k]; over {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "BERTH_ROOT="+e.Root, "BERTH_RUNROOT="+e.RunRoot)
	for k, v := range e.env {
		out = append(out, k+"="+v)
	}
	return out
}

// Command returns an unstarted *exec.Cmd running berth with args in e's environment, for tests
// that need full control (a pty, custom stdio). The caller must start and wait for it.
func (e *Env) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.Binary, args...)
	cmd.Env = e.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (e *Env) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return DefaultTimeout
}

// Run runs berth with args and returns what it did. It never fails the test by itself.
func (e *Env) Run(args ...string) Result {
	e.T.Helper()
	return e.RunWithStdin(nil, args...)
}

// RunParallel runs n berth commands at once, the i-th with args(i), and returns their results
// in that order.
func (e *Env) RunParallel(n int, args func(i int) []string) []Result {
	e.T.Helper()
	results := make([]Result, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = e.Run(args(i)...)
		}(i)
	}
	wg.Wait()
	return results
}

// RunWithStdin runs berth with args, feeding stdin (nil: no input).
func (e *Env) RunWithStdin(stdin io.Reader, args ...string) Result {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout())
	defer cancel()
	cmd := e.Command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: exitCode(cmd, err)}
	if ctx.Err() == context.DeadlineExceeded {
		res.Stderr += fmt.Sprintf("\n[harness: killed after %s]", e.timeout())
	}
	if testing.Verbose() {
		e.T.Logf("$ berth %s  => %d", strings.Join(args, " "), res.Code)
	}
	return res
}

// MustRun runs berth with args and returns its stdout; a non-zero exit fails the test.
func (e *Env) MustRun(args ...string) string {
	e.T.Helper()
	res := e.Run(args...)
	if res.Code != 0 {
		e.T.Fatalf("berth %s: %s", strings.Join(args, " "), res)
	}
	return res.Stdout
}

// MustFail runs berth with args, fails the test if it exits 0, and returns the result.
func (e *Env) MustFail(args ...string) Result {
	e.T.Helper()
	res := e.Run(args...)
	if res.Code == 0 {
		e.T.Fatalf("berth %s succeeded, want failure: %s", strings.Join(args, " "), res)
	}
	return res
}

func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState != nil {
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1
		}
		return cmd.ProcessState.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// Image returns the reference of fixture name (e.g. "busybox", "layered:latest") in the shared
// test registry, starting it if needed: "127.0.0.1:PORT/busybox:latest".
func (e *Env) Image(name string) string {
	e.T.Helper()
	if !strings.Contains(name, ":") && !strings.Contains(name, "@") {
		name += ":latest"
	}
	return Registry(e.T) + "/" + name
}

// Pull pulls fixture name into e's root and returns its reference (as Image does).
func (e *Env) Pull(name string) string {
	e.T.Helper()
	ref := e.Image(name)
	e.MustRun("pull", "-q", ref)
	return ref
}
