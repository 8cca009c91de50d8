package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/fixtures"
)

// RegistryBinary is Debian's CNCF distribution server (package docker-registry).
var RegistryBinary = "/usr/bin/docker-registry"

// RegistryServer is one running docker-registry process.
type RegistryServer struct {
	Addr string // "127.0.0.1:PORT"
	Dir  string // config, storage and log
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	regMu     sync.Mutex
	shared    *RegistryServer
	sharedErr error
	servers   []*RegistryServer // every server started by this process, stopped by StopAll
)

// Registry returns the address ("127.0.0.1:PORT") of the test binary's shared registry, with
// the standard fixtures pushed. The first call starts it; harness.Main stops it.
func Registry(tb testing.TB) string {
	tb.Helper()
	regMu.Lock()
	defer regMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = startWithFixtures()
	}
	if sharedErr != nil {
		tb.Fatalf("harness: test registry: %v", sharedErr)
	}
	return shared.Addr
}

func startWithFixtures() (*RegistryServer, error) {
	srv, err := StartRegistry()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := fixtures.Push(ctx, srv.Addr); err != nil {
		srv.Stop()
		return nil, err
	}
	return srv, nil
}

// NewRegistry starts an empty registry of the test's own (for tests that push, delete or break
// things) and stops it when the test ends.
func NewRegistry(tb testing.TB) *RegistryServer {
	tb.Helper()
	srv, err := StartRegistry()
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	tb.Cleanup(srv.Stop)
	return srv
}

// StartRegistry starts an empty docker-registry on a free loopback port with filesystem storage
// in a temp dir, no auth, plain HTTP and deletes enabled, and waits until /v2/ answers. Call
// Stop when done (StopAll stops every one still running).
func StartRegistry() (*RegistryServer, error) {
	if _, err := os.Stat(RegistryBinary); err != nil {
		return nil, fmt.Errorf("%s missing (apt-get install docker-registry): %w", RegistryBinary, err)
	}
	return startRegistry("")
}

// NewAuthRegistry is NewRegistry behind Basic auth: htpasswd holds "user:bcrypt-hash" lines
// (distribution accepts bcrypt only). /v2/ answers 401 without credentials.
func NewAuthRegistry(tb testing.TB, htpasswd string) *RegistryServer {
	tb.Helper()
	f, err := os.CreateTemp("", "berth-htpasswd-")
	if err == nil {
		tb.Cleanup(func() { os.Remove(f.Name()) })
		_, err = f.WriteString(htpasswd)
		f.Close()
	}
	if err != nil {
		tb.Fatalf("harness: htpasswd: %v", err)
	}
	srv, err := startRegistry(fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", f.Name()))
	if err != nil {
		tb.Fatalf("harness: %v", err)
	}
	tb.Cleanup(srv.Stop)
	return srv
}

// startRegistry starts a registry whose config ends with extra (YAML), retrying on port races.
func startRegistry(extra string) (*RegistryServer, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		srv, err := startRegistryOnce(extra)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

const registryConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`

func startRegistryOnce(extra string) (*RegistryServer, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "berth-registry-")
	if err != nil {
		return nil, fmt.Errorf("registry dir: %w", err)
	}
	srv := &RegistryServer{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, done: make(chan struct{})}
	cfgPath := filepath.Join(dir, "config.yml")
	cfg := fmt.Sprintf(registryConfig, filepath.Join(dir, "storage"), srv.Addr) + extra
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("registry config: %w", err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("registry log: %w", err)
	}
	defer logf.Close()
	srv.cmd = exec.Command(RegistryBinary, "serve", cfgPath)
	srv.cmd.Stdout, srv.cmd.Stderr = logf, logf
	// Dies with the test binary even if nothing gets to stop it.
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := srv.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", RegistryBinary, err)
	}
	go func() { _ = srv.cmd.Wait(); close(srv.done) }()
	serversMu.Lock()
	servers = append(servers, srv)
	serversMu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-srv.done:
			log := srv.Log()
			srv.Stop()
			return nil, fmt.Errorf("docker-registry on %s exited at start: %s", srv.Addr, log)
		default:
		}
		resp, err := client.Get("http://" + srv.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (extra != "" && resp.StatusCode == http.StatusUnauthorized) {
				return srv, nil
			}
		}
		if time.Now().After(deadline) {
			log := srv.Log()
			srv.Stop()
			return nil, fmt.Errorf("docker-registry on %s did not answer /v2/ in 20s: %v: %s", srv.Addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var serversMu sync.Mutex

// Log returns what the registry has logged so far.
func (s *RegistryServer) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "registry.log"))
	return string(b)
}

// Stop kills the registry (by PID) and removes its storage. It is safe to call twice.
func (s *RegistryServer) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
	}
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
}

// StopAll stops every registry this process started.
func StopAll() {
	serversMu.Lock()
	all := servers
	servers = nil
	serversMu.Unlock()
	for _, s := range all {
		s.Stop()
	}
	regMu.Lock()
	shared, sharedErr = nil, nil
	regMu.Unlock()
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
