package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// stallingProxy forwards to a registry; while stall is set, a layer blob's download sends half
// of the layer and then hangs until the client goes away.
type stallingProxy struct {
	stall   atomic.Bool
	started chan struct{} // receives once a stalled download has sent its first half
}

func newStallingProxy(t *testing.T, registry string) (*stallingProxy, string) {
	t.Helper()
	p := &stallingProxy{started: make(chan struct{}, 16)}
	target, _ := url.Parse("http://" + registry)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0) // aborted downloads are the point
	rp.ModifyResponse = func(resp *http.Response) error {
		if !p.stall.Load() || !strings.Contains(resp.Request.URL.Path, "/blobs/sha256:") || resp.ContentLength < 4096 {
			return nil
		}
		resp.Body = &stallingBody{rc: resp.Body, left: resp.ContentLength / 2, p: p, done: resp.Request.Context().Done()}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return p, strings.TrimPrefix(srv.URL, "http://")
}

type stallingBody struct {
	rc   io.ReadCloser
	left int64
	p    *stallingProxy
	done <-chan struct{}
	sent bool
}

func (b *stallingBody) Read(buf []byte) (int, error) {
	if b.left <= 0 {
		if !b.sent {
			b.sent = true
			b.p.started <- struct{}{}
		}
		select {
		case <-b.done:
		case <-time.After(time.Minute):
		}
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(buf)) > b.left {
		buf = buf[:b.left]
	}
	n, err := b.rc.Read(buf)
	b.left -= int64(n)
	return n, err
}

func (b *stallingBody) Close() error { return b.rc.Close() }

// TestImagePullInterrupted stops pulls in the middle of a layer download, by Ctrl-C and by
// SIGKILL: no image appears, nothing half-downloaded is trusted, and the next pull completes.
func TestImagePullInterrupted(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			env := harness.New(t)
			proxy, addr := newStallingProxy(t, harness.Registry(t))
			ref := addr + "/layered:latest"
			proxy.stall.Store(true)
			p := env.Start("pull", ref)
			select {
			case <-proxy.started:
			case <-p.Done():
				t.Fatalf("pull ended before the stalled download: %s", p.Wait(0))
			case <-time.After(time.Minute):
				p.Kill()
				t.Fatal("no layer download started")
			}
			if err := p.Signal(sig); err != nil {
				t.Fatal(err)
			}
			res := p.Wait(30 * time.Second)
			if res.Code == 0 {
				t.Fatalf("interrupted pull succeeded: %s", res)
			}
			if ids := imageIDs(t, env); len(ids) != 0 {
				t.Errorf("an interrupted pull stored images: %v", ids)
			}
			if sig == syscall.SIGINT {
				assertNoTemporaries(t, env)
			}
			// Whatever is in the content store is complete and matches its digest.
			blobs, _ := filepath.Glob(filepath.Join(env.Root, "blobs", "sha256", "*"))
			for _, b := range blobs {
				data, err := os.ReadFile(b)
				if err != nil {
					t.Fatal(err)
				}
				if got := sha256Hex(data); got != filepath.Base(b) {
					t.Errorf("blob %s holds content of digest %s", filepath.Base(b), got)
				}
			}

			proxy.stall.Store(false)
			env.MustRun("pull", "-q", ref)
			upper := strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", ref))
			if got := readFile(t, filepath.Join(upper, "etc", "motd")); got == "" {
				t.Error("the completed pull's top layer is empty")
			}
			assertNoTemporaries(t, env)
		})
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
