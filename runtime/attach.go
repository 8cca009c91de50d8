package runtime

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/trace"
)

// AttachOptions say which streams an attach client wants and the terminal size it starts with.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
	Height, Width         uint16
}

// AttachConn is a connection to a container's monitor.
type AttachConn struct {
	conn net.Conn
	r    *bufio.Reader
	wmu  sync.Mutex
}

// ErrDetached is returned by Stream when the user typed the detach keys.
var ErrDetached = errors.New("read escape sequence")

// DialAttach connects to the monitor of running container c, recording Docker's attach event.
func (r *Runtime) DialAttach(c *Container, o AttachOptions) (*AttachConn, error) {
	r.event(&c.Record, "attach", nil)
	id := c.ID
	conn, err := net.Dial("unix", r.Layout.AttachSocket(id))
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", ids12(id), err)
	}
	hello, _ := json.Marshal(attachHello{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Height: o.Height, Width: o.Width})
	if err := writeFrame(conn, frameHello, hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("attach %s: %w", ids12(id), err)
	}
	return &AttachConn{conn: conn, r: bufio.NewReader(conn)}, nil
}

func (a *AttachConn) send(t byte, p []byte) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return writeFrame(a.conn, t, p)
}

// Resize tells the monitor the client's terminal size.
func (a *AttachConn) Resize(height, width uint16) error {
	var p [4]byte
	binary.BigEndian.PutUint16(p[0:], height)
	binary.BigEndian.PutUint16(p[2:], width)
	return a.send(frameResize, p[:])
}

// Close drops the connection; the container keeps running.
func (a *AttachConn) Close() error { return a.conn.Close() }

// Stream copies stdin (when not nil) to the container, watching for detachKeys, and the
// container's output to stdout and stderr, until the container exits (its exit code is returned),
// the user detaches (ErrDetached) or the connection breaks.
func (a *AttachConn) Stream(stdin io.Reader, stdout, stderr io.Writer, detachKeys []byte) (int, error) {
	detached := make(chan struct{})
	if stdin != nil {
		go a.pumpStdin(stdin, detachKeys, detached)
	}
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		buf := make([]byte, 32*1024)
		for {
			t, p, err := readFrame(a.r, buf)
			if err != nil {
				done <- result{-1, fmt.Errorf("attach: connection to the container monitor lost")}
				return
			}
			switch t {
			case frameStdout:
				if stdout != nil {
					stdout.Write(p)
				}
			case frameStderr:
				if stderr != nil {
					stderr.Write(p)
				}
			case frameExit:
				trace.Mark("exit code received")
				// The monitor sends the code once the container is cleaned up (and removed,
				// with --rm); its own exit takes a few more milliseconds, not waited for.
				code, _ := strconv.Atoi(string(p))
				done <- result{code, nil}
				return
			}
		}
	}()
	select {
	case res := <-done:
		return res.code, res.err
	case <-detached:
		a.conn.Close()
		return 0, ErrDetached
	}
}

func (a *AttachConn) pumpStdin(in io.Reader, keys []byte, detached chan struct{}) {
	buf := make([]byte, 32*1024)
	var held []byte // bytes that match a prefix of keys so far
	for {
		n, err := in.Read(buf)
		if n > 0 {
			out := make([]byte, 0, n+len(held))
			for _, b := range buf[:n] {
				if len(keys) > 0 && b == keys[len(held)] {
					held = append(held, b)
					if len(held) == len(keys) {
						if len(out) > 0 {
							a.send(frameStdin, out)
						}
						close(detached)
						return
					}
					continue
				}
				out = append(out, held...)
				held = held[:0]
				if len(keys) > 0 && b == keys[0] {
					held = append(held, b)
					continue
				}
				out = append(out, b)
			}
			if len(out) > 0 {
				if a.send(frameStdin, out) != nil {
					return
				}
			}
		}
		if err != nil {
			if len(held) > 0 {
				a.send(frameStdin, held)
			}
			a.send(frameClose, nil)
			return
		}
	}
}

// DefaultDetachKeys is Docker's detach sequence.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys turns "ctrl-p,ctrl-q" style sequences into bytes, as Docker does.
func ParseDetachKeys(keys string) ([]byte, error) {
	if keys == "" {
		keys = DefaultDetachKeys
	}
	var out []byte
	for _, k := range strings.Split(keys, ",") {
		if len(k) == 1 {
			out = append(out, k[0])
			continue
		}
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "ctrl-") || len(lk) != 6 {
			return nil, errdefs.Invalid(fmt.Sprintf("Unknown character: '%s'", k))
		}
		c := lk[5]
		switch {
		case c >= 'a' && c <= 'z':
			out = append(out, c-'a'+1)
		case c == '@':
			out = append(out, 0)
		case c == '[':
			out = append(out, 27)
		case c == '\\':
			out = append(out, 28)
		case c == ']':
			out = append(out, 29)
		case c == '^':
			out = append(out, 30)
		case c == '_':
			out = append(out, 31)
		default:
			return nil, errdefs.Invalid(fmt.Sprintf("Unknown character: '%s'", k))
		}
	}
	return out, nil
}
