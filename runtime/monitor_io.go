package runtime

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Attach protocol frames: one type byte, a 4-byte big-endian length, the payload.
const (
	frameHello  = 'h' // client -> monitor: JSON attachHello
	frameStdin  = 'i' // client -> monitor: bytes for the container's stdin
	frameClose  = 'c' // client -> monitor: the client's stdin ended
	frameResize = 'r' // client -> monitor: height, width (2 x uint16)
	frameStdout = '1' // monitor -> client
	frameStderr = '2' // monitor -> client
	frameExit   = 'x' // monitor -> client: the exit code in decimal; the stream ends
)

// attachHello is the first frame of an attach client.
type attachHello struct {
	Stdin, Stdout, Stderr bool
	Height, Width         uint16
}

func writeFrame(w io.Writer, t byte, p []byte) error {
	var h [5]byte
	h[0] = t
	binary.BigEndian.PutUint32(h[1:], uint32(len(p)))
	if len(p) < 4096 {
		buf := make([]byte, 0, 5+len(p))
		buf = append(append(buf, h[:]...), p...)
		_, err := w.Write(buf)
		return err
	}
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

func readFrame(r io.Reader, buf []byte) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > 1<<20 {
		return 0, nil, errors.New("attach: frame too large")
	}
	if int(n) > cap(buf) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return h[0], buf, nil
}

// logWriter appends Docker json-file lines to the container's log. Partial lines are held until
// their newline arrives (or the stream ends).
type logWriter struct {
	mu sync.Mutex
	f  *os.File
}

type logLine struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

func (w *logWriter) write(stream string, line []byte) {
	if w == nil || w.f == nil {
		return
	}
	data, err := json.Marshal(logLine{Log: string(line), Stream: stream, Time: time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return
	}
	data = append(data, '\n')
	w.mu.Lock()
	w.f.Write(data)
	w.mu.Unlock()
}

// hub fans the container's output out to the log and the attached clients and collects their
// input for the container's stdin.
type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
	log     *logWriter
	// stdin is the write end of the container's stdin (pipe or pty master); nil without -i.
	stdin     io.WriteCloser
	stdinOnce bool
	// console is the pty master for -t, for resizes.
	console *os.File
}

type client struct {
	conn  net.Conn
	hello attachHello
	wmu   sync.Mutex
	dead  bool
}

func (c *client) send(t byte, p []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.dead {
		return
	}
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := writeFrame(c.conn, t, p); err != nil {
		c.dead = true
		c.conn.Close()
	}
}

func (h *hub) add(c *client) {
	h.mu.Lock()
	if h.clients == nil {
		h.clients = map[*client]struct{}{}
	}
	h.clients[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// broadcast sends output of one stream to the clients that asked for it.
func (h *hub) broadcast(t byte, p []byte) {
	h.mu.Lock()
	list := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		if t == frameStdout && c.hello.Stdout || t == frameStderr && c.hello.Stderr {
			list = append(list, c)
		}
	}
	h.mu.Unlock()
	for _, c := range list {
		c.send(t, p)
	}
}

// finish tells every client the exit code and closes them.
func (h *hub) finish(code int) {
	h.mu.Lock()
	list := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		list = append(list, c)
	}
	h.clients = nil
	h.mu.Unlock()
	for _, c := range list {
		c.send(frameExit, []byte(strconv.Itoa(code)))
		c.wmu.Lock()
		c.dead = true
		c.conn.Close()
		c.wmu.Unlock()
	}
}

// pump copies one output stream of the container into the log and to the clients until EOF.
func (h *hub) pump(r io.Reader, stream string, wg *sync.WaitGroup) {
	defer wg.Done()
	t := byte(frameStdout)
	if stream == "stderr" {
		t = frameStderr
	}
	buf := make([]byte, 32*1024)
	var partial []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			h.broadcast(t, chunk)
			data := chunk
			if len(partial) > 0 {
				data = append(partial, chunk...)
				partial = partial[:0]
			}
			for {
				i := indexByte(data, '\n')
				if i < 0 {
					break
				}
				h.log.write(stream, data[:i+1])
				data = data[i+1:]
			}
			if len(data) >= 16*1024 {
				h.log.write(stream, data)
				data = nil
			}
			partial = append(partial[:0], data...)
		}
		if err != nil {
			break
		}
	}
	if len(partial) > 0 {
		h.log.write(stream, partial)
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// serve reads one client's frames: hello, then stdin, close and resize.
func (h *hub) serve(c *client, r *bufio.Reader) {
	defer func() {
		h.remove(c)
		c.wmu.Lock()
		c.dead = true
		c.conn.Close()
		c.wmu.Unlock()
	}()
	buf := make([]byte, 4096)
	for {
		t, p, err := readFrame(r, buf)
		if err != nil {
			return
		}
		switch t {
		case frameStdin:
			h.mu.Lock()
			in := h.stdin
			h.mu.Unlock()
			if in != nil && c.hello.Stdin {
				in.Write(p)
			}
		case frameClose:
			if c.hello.Stdin && h.stdinOnce {
				h.closeStdin()
			}
		case frameResize:
			if len(p) == 4 {
				h.resize(binary.BigEndian.Uint16(p[0:]), binary.BigEndian.Uint16(p[2:]))
			}
		}
	}
}

func (h *hub) closeStdin() {
	h.mu.Lock()
	in := h.stdin
	if h.console == nil {
		h.stdin = nil
	}
	h.mu.Unlock()
	if in == nil {
		return
	}
	if h.console != nil {
		in.Write([]byte{4}) // ^D: end of input on a terminal
		return
	}
	in.Close()
}

func (h *hub) resize(height, width uint16) {
	if h.console == nil || height == 0 || width == 0 {
		return
	}
	// Not Fd(): it would turn the console blocking, and its pump's reads then no longer stop
	// at a deadline (the idle hand-over needs them to).
	if sc, err := h.console.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) {
			unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
		})
	}
}

// pollable returns f (closed) as a non-blocking file served by Go's poller, whose reads stop at
// a deadline. A terminal's master received from the container's init is blocking.
func pollable(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("console: %w", err)
	}
	return os.NewFile(uintptr(fd), "console"), nil
}

// accept registers a new connection after reading its hello.
func (h *hub) accept(conn net.Conn) (*client, *bufio.Reader, error) {
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	t, p, err := readFrame(r, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	conn.SetReadDeadline(time.Time{})
	c := &client{conn: conn}
	if t != frameHello || json.Unmarshal(p, &c.hello) != nil {
		conn.Close()
		return nil, nil, errors.New("attach: bad hello")
	}
	h.add(c)
	return c, r, nil
}
