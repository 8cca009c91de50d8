// The idle monitor: see idlemon.go.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Kept in step with runtime.IdleMonitorArg, runtime.ExitedMonitorArg and the frames of
 * runtime/monitor_io.go. */
#define IDLE_ARG "__berth-idle"
#define EXITED_ARG "__berth-monitor-exited"
#define MAX_CLIENTS 64
#define CHUNK (32 * 1024)
#define LOG_SPLIT (16 * 1024)
#define MAX_FRAME (1 << 20)
#define FRAME_HELLO 'h'
#define FRAME_STDIN 'i'
#define FRAME_CLOSE 'c'
#define FRAME_RESIZE 'r'
/* Input for the container held while it does not read: past this, clients are not read. */
#define STDIN_HIGH (1 << 20)

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n) {
	if (b->len + n > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->len + n) {
			c *= 2;
		}
		char *q = realloc(b->p, c);
		if (q == NULL) {
			_exit(125);
		}
		b->p = q;
		b->cap = c;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

struct stream {
	int fd; /* -1 once at its end */
	const char *name;
	char frame;
	struct buf partial;
};

struct client {
	int fd;
	int active;
	int out, err, stdin;
	struct buf in;
	long long hello_deadline; /* CLOCK_MONOTONIC ms */
};

static struct stream streams[2];
static struct client clients[MAX_CLIENTS];
static int nclients;
static int log_fd = -1;

/* The container's stdin (-i): a pipe, or its terminal's master (-t), non-blocking; what the
 * clients sent that it has not read yet; whether a client's end of input closes it (StdinOnce). */
static int in_fd = -1, tty, stdin_once, close_in;
static struct buf in_pending;

/* The container's published ports: reserving sockets (kept open, untouched) and IPv6 proxies,
 * as network.Held serves them in the Go monitor. */
#define MAX_PORTS 64
#define MAX_PROXIED 64
#define RELAY (64 * 1024)

struct port {
	int fd;
	int proxy; /* a listening IPv6 socket forwarded to target */
	struct sockaddr_in target;
};

/* One direction of a proxied connection. */
struct flow {
	char *buf;
	size_t len;
	int eof; /* its source ended */
	int shut; /* its destination was told */
};

struct proxied {
	int a, b; /* the client's socket, the container's */
	int connecting;
	struct flow ab, ba;
};

static struct port ports[MAX_PORTS];
static int nports;
static struct proxied proxied[MAX_PROXIED];
static int nproxied;

static long long mono_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* go_rune decodes one UTF-8 sequence as Go's utf8.DecodeRune does: its rune and length, or -1
 * and 1 for an invalid byte. */
static int go_rune(const unsigned char *s, size_t n, int *size) {
	unsigned c = s[0];
	*size = 1;
	if (c < 0x80) {
		return c;
	}
	int need;
	unsigned r, min;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1, r = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2, r = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3, r = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if ((size_t)need >= n) {
		return -1;
	}
	for (int i = 1; i <= need; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			return -1;
		}
		r = (r << 6) | (s[i] & 0x3F);
	}
	if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) {
		return -1;
	}
	*size = need + 1;
	return (int)r;
}

/* json_string appends s as encoding/json writes a string (HTML-safe, invalid UTF-8 as U+FFFD). */
static void json_string(struct buf *b, const unsigned char *s, size_t n) {
	static const char hex[] = "0123456789abcdef";
	buf_add(b, "\"", 1);
	size_t start = 0, i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				i++;
				continue;
			}
			buf_add(b, s + start, i - start);
			switch (c) {
			case '"': buf_str(b, "\\\""); break;
			case '\\': buf_str(b, "\\\\"); break;
			case '\b': buf_str(b, "\\b"); break;
			case '\f': buf_str(b, "\\f"); break;
			case '\n': buf_str(b, "\\n"); break;
			case '\r': buf_str(b, "\\r"); break;
			case '\t': buf_str(b, "\\t"); break;
			default: {
				char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
				buf_add(b, e, 6);
			}
			}
			i++;
			start = i;
			continue;
		}
		int size;
		int r = go_rune(s + i, n - i, &size);
		if (r < 0 || r == 0x2028 || r == 0x2029) {
			buf_add(b, s + start, i - start);
			buf_str(b, r < 0 ? "\\ufffd" : r == 0x2028 ? "\\u2028" : "\\u2029");
			i += size;
			start = i;
			continue;
		}
		i += size;
	}
	buf_add(b, s + start, n - start);
	buf_add(b, "\"", 1);
}

/* log_line appends one json-file line to the log, as runtime's logWriter does. */
static void log_line(struct stream *st, const unsigned char *p, size_t n) {
	if (log_fd < 0) {
		return;
	}
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	struct tm tm;
	gmtime_r(&t.tv_sec, &tm);
	char when[64];
	int w = (int)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (t.tv_nsec != 0) {
		char frac[16];
		snprintf(frac, sizeof(frac), ".%09ld", t.tv_nsec);
		int k = (int)strlen(frac);
		while (frac[k - 1] == '0') {
			frac[--k] = '\0';
		}
		w += snprintf(when + w, sizeof(when) - (size_t)w, "%s", frac);
	}
	snprintf(when + w, sizeof(when) - (size_t)w, "Z");
	struct buf b = {0};
	buf_str(&b, "{\"log\":");
	json_string(&b, p, n);
	buf_str(&b, ",\"stream\":\"");
	buf_str(&b, st->name);
	buf_str(&b, "\",\"time\":\"");
	buf_str(&b, when);
	buf_str(&b, "\"}\n");
	ssize_t off = 0;
	while ((size_t)off < b.len) {
		ssize_t k = write(log_fd, b.p + off, b.len - (size_t)off);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			break;
		}
		off += k;
	}
	free(b.p);
}

static void drop_client(int i) {
	close(clients[i].fd);
	free(clients[i].in.p);
	clients[i] = clients[--nclients];
}

/* send_all writes all of p to a client, waiting at most 10 s in all as the Go monitor does. */
static int send_all(int fd, const char *p, size_t n) {
	long long deadline = mono_ms() + 10000;
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			long long left = deadline - mono_ms();
			if (left <= 0) {
				return -1;
			}
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			poll(&pf, 1, (int)left);
			continue;
		}
		return -1;
	}
	return 0;
}

static void broadcast(char frame, const char *p, size_t n) {
	char h[5] = {frame, (char)(n >> 24), (char)(n >> 16), (char)(n >> 8), (char)n};
	for (int i = 0; i < nclients;) {
		struct client *c = &clients[i];
		int wants = c->active && (frame == '1' ? c->out : c->err);
		if (wants && (send_all(c->fd, h, 5) != 0 || send_all(c->fd, p, n) != 0)) {
			drop_client(i);
			continue;
		}
		i++;
	}
}

/* pump reads what the stream has: to the clients that asked for it, and into the log line by
 * line (a line longer than 16 KB in pieces), as runtime's hub.pump does. */
static void pump(struct stream *st) {
	static char chunk[CHUNK];
	ssize_t n = read(st->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
		return;
	}
	if (n <= 0) {
		if (st->partial.len > 0) {
			log_line(st, (unsigned char *)st->partial.p, st->partial.len);
			st->partial.len = 0;
		}
		close(st->fd);
		st->fd = -1;
		return;
	}
	broadcast(st->frame, chunk, (size_t)n);
	buf_add(&st->partial, chunk, (size_t)n);
	char *data = st->partial.p;
	size_t len = st->partial.len;
	char *nl;
	while ((nl = memchr(data, '\n', len)) != NULL) {
		size_t k = (size_t)(nl - data) + 1;
		log_line(st, (unsigned char *)data, k);
		data += k;
		len -= k;
	}
	if (len >= LOG_SPLIT) {
		log_line(st, (unsigned char *)data, len);
		len = 0;
	}
	memmove(st->partial.p, data, len);
	st->partial.len = len;
}

static void close_stdin(void) {
	if (in_fd >= 0) {
		close(in_fd);
		in_fd = -1;
	}
	in_pending.len = 0;
	close_in = 0;
}

/* flush_stdin writes what the container's stdin can take now. */
static void flush_stdin(void) {
	while (in_fd >= 0 && in_pending.len > 0) {
		ssize_t k = write(in_fd, in_pending.p, in_pending.len);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0 && errno == EAGAIN) {
			return;
		}
		if (k <= 0) {
			close_stdin(); /* the container closed its stdin (EPIPE) */
			return;
		}
		memmove(in_pending.p, in_pending.p + k, in_pending.len - (size_t)k);
		in_pending.len -= (size_t)k;
	}
	if (close_in && in_pending.len == 0) {
		close_stdin();
	}
}

/* frame acts on a frame of an attached client, as runtime's hub.serve does. */
static void frame(struct client *c, char type, const unsigned char *p, uint32_t len) {
	switch (type) {
	case FRAME_STDIN:
		if (c->stdin && in_fd >= 0 && !close_in) {
			buf_add(&in_pending, p, len);
		}
		break;
	case FRAME_CLOSE:
		if (c->stdin && stdin_once && in_fd >= 0) {
			if (tty) {
				buf_add(&in_pending, "\x04", 1); /* ^D: end of input on a terminal */
			} else {
				close_in = 1;
			}
		}
		break;
	case FRAME_RESIZE:
		if (tty && in_fd >= 0 && len == 4) {
			struct winsize ws = {.ws_row = (unsigned short)(p[0] << 8 | p[1]),
				.ws_col = (unsigned short)(p[2] << 8 | p[3])};
			if (ws.ws_row != 0 && ws.ws_col != 0) {
				ioctl(in_fd, TIOCSWINSZ, &ws);
			}
		}
		break;
	}
}

/* client_input reads a client's frames: its hello (which streams it wants), then its input for
 * the container's stdin, the end of it, and its terminal's size. */
static void client_input(int i) {
	struct client *c = &clients[i];
	char tmp[4096];
	ssize_t n = read(c->fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
		return;
	}
	if (n <= 0) {
		drop_client(i);
		return;
	}
	buf_add(&c->in, tmp, (size_t)n);
	for (;;) {
		if (c->in.len < 5) {
			return;
		}
		unsigned char *h = (unsigned char *)c->in.p;
		uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
		if (len > MAX_FRAME || (!c->active && h[0] != FRAME_HELLO)) {
			drop_client(i);
			return;
		}
		if (c->in.len < 5 + (size_t)len) {
			return;
		}
		if (!c->active) {
			struct buf hello = {0};
			buf_add(&hello, c->in.p + 5, len);
			buf_add(&hello, "", 1);
			c->out = strstr(hello.p, "\"Stdout\":true") != NULL;
			c->err = strstr(hello.p, "\"Stderr\":true") != NULL;
			c->stdin = strstr(hello.p, "\"Stdin\":true") != NULL;
			c->active = 1;
			free(hello.p);
		} else {
			frame(c, (char)h[0], (unsigned char *)c->in.p + 5, len);
		}
		memmove(c->in.p, c->in.p + 5 + len, c->in.len - 5 - len);
		c->in.len -= 5 + len;
	}
}

static void accept_client(int lfd) {
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		return;
	}
	if (nclients == MAX_CLIENTS) {
		close(fd);
		return;
	}
	struct client *c = &clients[nclients++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->hello_deadline = mono_ms() + 5000;
}

static void drop_proxied(int i) {
	close(proxied[i].a);
	close(proxied[i].b);
	free(proxied[i].ab.buf);
	free(proxied[i].ba.buf);
	proxied[i] = proxied[--nproxied];
}

static void accept_proxied(struct port *p) {
	int a = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (a < 0) {
		return;
	}
	int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (nproxied == MAX_PROXIED || b < 0) {
		close(a);
		if (b >= 0) {
			close(b);
		}
		return;
	}
	int connecting = 0;
	if (connect(b, (struct sockaddr *)&p->target, sizeof(p->target)) != 0) {
		if (errno != EINPROGRESS) {
			close(a);
			close(b);
			return;
		}
		connecting = 1;
	}
	struct proxied *x = &proxied[nproxied++];
	memset(x, 0, sizeof(*x));
	x->a = a;
	x->b = b;
	x->connecting = connecting;
	x->ab.buf = malloc(RELAY);
	x->ba.buf = malloc(RELAY);
	if (x->ab.buf == NULL || x->ba.buf == NULL) {
		drop_proxied(nproxied - 1);
	}
}

/* relay moves one direction along: read when its buffer is empty, write what it holds, and
 * pass the end of the source on (as net.TCPConn.CloseWrite in the Go proxy). -1: drop. */
static int relay(struct flow *f, int src, short src_ev, int dst, short dst_ev) {
	if (f->len == 0 && !f->eof && (src_ev & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(src, f->buf, RELAY);
		if (n > 0) {
			f->len = (size_t)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			f->eof = 1;
		}
	}
	if (f->len > 0 && (dst_ev & POLLOUT)) {
		ssize_t n = send(dst, f->buf, f->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		}
		if (n > 0) {
			memmove(f->buf, f->buf + n, f->len - (size_t)n);
			f->len -= (size_t)n;
		}
	}
	if (f->eof && f->len == 0 && !f->shut) {
		shutdown(dst, SHUT_WR);
		f->shut = 1;
	}
	return 0;
}

/* parse_ports reads "ports=FD;FD@IP:PORT;..." from the BERTH_IDLE specification. */
static void parse_ports(const char *spec) {
	const char *p = strstr(spec, "ports=");
	if (p == NULL) {
		return;
	}
	p += 6;
	while (*p != '\0' && *p != ',' && nports < MAX_PORTS) {
		struct port *pt = &ports[nports];
		memset(pt, 0, sizeof(*pt));
		pt->fd = (int)strtol(p, (char **)&p, 10);
		if (*p == '@') {
			char ip[64];
			size_t k = 0;
			p++;
			while (*p != ':' && *p != '\0' && k < sizeof(ip) - 1) {
				ip[k++] = *p++;
			}
			ip[k] = '\0';
			if (*p == ':') {
				p++;
			}
			pt->target.sin_family = AF_INET;
			pt->target.sin_port = htons((uint16_t)strtol(p, (char **)&p, 10));
			pt->proxy = inet_pton(AF_INET, ip, &pt->target.sin_addr) == 1;
		}
		fcntl(pt->fd, F_SETFD, FD_CLOEXEC);
		if (pt->proxy) {
			fcntl(pt->fd, F_SETFL, fcntl(pt->fd, F_GETFL) | O_NONBLOCK);
		}
		nports++;
		if (*p == ';') {
			p++;
		}
	}
}

static int env_int(const char *spec, const char *key, long long *v) {
	size_t k = strlen(key);
	for (const char *p = spec; p != NULL && *p != '\0';) {
		if (strncmp(p, key, k) == 0 && p[k] == '=') {
			*v = strtoll(p + k + 1, NULL, 10);
			return 1;
		}
		p = strchr(p, ',');
		if (p != NULL) {
			p++;
		}
	}
	return 0;
}

static void no_op(int sig) { (void)sig; }

/* berth_idle runs the idle monitor; it never returns (see idlemon.go). */
void berth_idle(int argc, char **argv) {
	long long pid, out, err, lfd, lg, delay = 0, notified = 0;
	const char *spec = getenv("BERTH_IDLE");
	if (argc < 5 || spec == NULL || !env_int(spec, "pid", &pid) || !env_int(spec, "out", &out) ||
	    !env_int(spec, "err", &err) || !env_int(spec, "listen", &lfd) || !env_int(spec, "log", &lg)) {
		_exit(125);
	}
	long long in = -1, is_tty = 0, once = 0;
	env_int(spec, "in", &in);
	env_int(spec, "tty", &is_tty);
	env_int(spec, "once", &once);
	tty = is_tty == 1;
	stdin_once = once == 1;
	if (in >= 0) {
		/* On a terminal stdin is the output's descriptor: one of its own, which the end of
		 * the output does not close. */
		in_fd = in == out ? fcntl((int)in, F_DUPFD_CLOEXEC, 3) : (int)in;
		fcntl(in_fd, F_SETFD, FD_CLOEXEC);
		fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	}
	env_int(spec, "delay", &delay);
	env_int(spec, "notified", &notified);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, no_op);
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) {
		_exit(125);
	}
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	log_fd = (int)lg;
	streams[0] = (struct stream){.fd = (int)out, .name = "stdout", .frame = '1'};
	streams[1] = (struct stream){.fd = (int)err, .name = "stderr", .frame = '2'};
	for (int i = 0; i < 2; i++) {
		if (streams[i].fd >= 0) {
			fcntl(streams[i].fd, F_SETFD, FD_CLOEXEC);
		}
	}
	fcntl(log_fd, F_SETFD, FD_CLOEXEC);
	parse_ports(spec);

	int exited = 0, code = 0;
	long long finished = 0, drain_until = 0;
	for (;;) {
		struct pollfd fds[4 + MAX_CLIENTS + MAX_PORTS + 2 * MAX_PROXIED];
		int nf = 0, s_idx[2] = {-1, -1};
		for (int i = 0; i < 2; i++) {
			if (streams[i].fd >= 0) {
				s_idx[i] = nf;
				fds[nf++] = (struct pollfd){.fd = streams[i].fd, .events = POLLIN};
			}
		}
		if (exited && ((streams[0].fd < 0 && streams[1].fd < 0) || mono_ms() >= drain_until)) {
			break;
		}
		int p_idx = -1, l_idx = nf, i_idx = -1;
		fds[nf++] = (struct pollfd){.fd = (int)lfd, .events = POLLIN};
		if (in_fd >= 0 && in_pending.len > 0) {
			i_idx = nf;
			fds[nf++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
		}
		if (!exited) {
			p_idx = nf;
			fds[nf++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		}
		int pl0 = nf;
		for (int i = 0; i < nports; i++) {
			fds[nf++] = (struct pollfd){.fd = ports[i].proxy && !exited ? ports[i].fd : -1, .events = POLLIN};
		}
		int px0 = nf;
		for (int i = 0; i < nproxied; i++) {
			struct proxied *x = &proxied[i];
			short ea = 0, eb = 0;
			if (x->connecting) {
				eb = POLLOUT;
			} else {
				if (x->ab.len == 0 && !x->ab.eof) {
					ea |= POLLIN;
				}
				if (x->ba.len > 0) {
					ea |= POLLOUT;
				}
				if (x->ba.len == 0 && !x->ba.eof) {
					eb |= POLLIN;
				}
				if (x->ab.len > 0) {
					eb |= POLLOUT;
				}
			}
			fds[nf++] = (struct pollfd){.fd = x->a, .events = ea};
			fds[nf++] = (struct pollfd){.fd = x->b, .events = eb};
		}
		int c0 = nf;
		long long now = mono_ms(), timeout = -1;
		for (int i = 0; i < nclients; i++) {
			/* Input waiting for the container holds the clients back, as a blocked write
			 * holds the Go monitor's. */
			short ev = in_pending.len >= STDIN_HIGH ? 0 : POLLIN;
			fds[nf++] = (struct pollfd){.fd = clients[i].fd, .events = ev};
			if (!clients[i].active) {
				long long left = clients[i].hello_deadline - now;
				if (timeout < 0 || left < timeout) {
					timeout = left < 0 ? 0 : left;
				}
			}
		}
		if (exited) {
			long long left = drain_until - now;
			if (timeout < 0 || left < timeout) {
				timeout = left < 0 ? 0 : left;
			}
		}
		int n = poll(fds, (nfds_t)nf, (int)timeout);
		if (n < 0 && errno != EINTR) {
			_exit(125);
		}
		now = mono_ms();
		if (n > 0) {
			for (int i = 0; i < 2; i++) {
				if (s_idx[i] >= 0 && fds[s_idx[i]].revents != 0) {
					pump(&streams[i]);
				}
			}
			/* Clients from the last poll, newest first (drop_client moves the last one). */
			for (int i = nf - 1; i >= c0; i--) {
				int ci = i - c0;
				if (ci < nclients && fds[i].revents != 0 && clients[ci].fd == fds[i].fd) {
					client_input(ci);
				}
			}
			flush_stdin();
			if (fds[l_idx].revents & POLLIN) {
				accept_client((int)lfd);
			}
			if (i_idx >= 0 && fds[i_idx].revents != 0) {
				flush_stdin();
			}
			/* Proxied connections from the last poll, newest first (drop_proxied moves the
			 * last one). */
			for (int i = (px0 == c0 ? 0 : (c0 - px0) / 2) - 1; i >= 0; i--) {
				struct proxied *x = &proxied[i];
				short ra = fds[px0 + 2 * i].revents, rb = fds[px0 + 2 * i + 1].revents;
				if (x->connecting) {
					if (rb == 0) {
						continue;
					}
					int e = 0;
					socklen_t el = sizeof(e);
					if (getsockopt(x->b, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
						drop_proxied(i);
						continue;
					}
					x->connecting = 0;
					continue;
				}
				if (relay(&x->ab, x->a, ra, x->b, rb) < 0 || relay(&x->ba, x->b, rb, x->a, ra) < 0 ||
				    (x->ab.shut && x->ba.shut)) {
					drop_proxied(i);
				}
			}
			for (int i = 0; i < nports; i++) {
				if (fds[pl0 + i].revents & POLLIN) {
					accept_proxied(&ports[i]);
				}
			}
			if (p_idx >= 0 && fds[p_idx].revents != 0) {
				siginfo_t si;
				memset(&si, 0, sizeof(si));
				int w = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
				if (w == 0 || errno != EINTR) {
					struct timespec t;
					clock_gettime(CLOCK_REALTIME, &t);
					finished = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
					/* 255 when the status is lost, as runtime's exitCode says of none. */
					code = w != 0 ? 255 : si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
					exited = 1;
					/* What the container wrote last is read for 2 s at most, as runtime's
					 * waitPumps waits. */
					drain_until = now + 2000;
				}
			}
		}
		for (int i = 0; i < nclients;) {
			if (!clients[i].active && clients[i].hello_deadline <= now) {
				drop_client(i);
				continue;
			}
			i++;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (streams[i].fd >= 0 && streams[i].partial.len > 0) {
			log_line(&streams[i], (unsigned char *)streams[i].partial.p, streams[i].partial.len);
		}
	}

	/* Back to Go for the exit: cleanup, restart policy, --rm, the exit code to the clients. */
	struct buf env = {0};
	char num[160];
	snprintf(num, sizeof(num), "BERTH_EXITED=code=%d,time=%lld,listen=%lld,delay=%lld,notified=%lld,clients=",
		code, finished, lfd, delay, notified);
	buf_str(&env, num);
	fcntl((int)lfd, F_SETFD, 0);
	for (int i = 0; i < nclients; i++) {
		if (!clients[i].active) {
			continue;
		}
		int fl = fcntl(clients[i].fd, F_GETFL);
		fcntl(clients[i].fd, F_SETFL, fl & ~O_NONBLOCK);
		fcntl(clients[i].fd, F_SETFD, 0);
		snprintf(num, sizeof(num), "%s%d:%d%d", env.len > 0 && env.p[env.len - 1] != '=' ? ";" : "",
			clients[i].fd, clients[i].out, clients[i].err);
		buf_str(&env, num);
	}
	buf_str(&env, ",held=");
	for (int i = 0; i < nports; i++) {
		fcntl(ports[i].fd, F_SETFD, 0);
		snprintf(num, sizeof(num), "%s%d", i > 0 ? ";" : "", ports[i].fd);
		buf_str(&env, num);
	}
	buf_add(&env, "", 1);
	char *envp[5];
	int ne = 0;
	envp[ne++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	envp[ne++] = "GOMAXPROCS=1";
	envp[ne++] = env.p;
	static char trace[4200];
	const char *t = getenv("BERTH_TRACE");
	if (t != NULL && t[0] != '\0' && strlen(t) < 4096) {
		snprintf(trace, sizeof(trace), "BERTH_TRACE=%s", t);
		envp[ne++] = trace;
	}
	envp[ne] = NULL;
	char *args[] = {"berth", EXITED_ARG, argv[2], argv[3], argv[4], NULL};
	execve("/proc/self/exe", args, envp);
	_exit(125);
}

/* Before the other constructors (earlymon's 300, nsenter's and prefault's default priority):
 * an idle monitor never starts the Go runtime, nor maps berth's code beyond what this loop
 * touches. */
__attribute__((constructor(250))) static void berth_idle_main(int argc, char **argv, char **envp) {
	(void)envp;
	if (argc >= 5 && strcmp(argv[1], IDLE_ARG) == 0 && getenv("_LIBCONTAINER_INITPIPE") == NULL) {
		berth_idle(argc, argv);
	}
}
