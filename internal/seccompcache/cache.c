//go:build linux && seccomp

/*
 * Records how a libseccomp filter context is shaped and serves its BPF from a cache keyed by
 * that record. The wrapped functions are reached through the linker's --wrap option (see the
 * #cgo LDFLAGS in cache.go): every call the Go bindings make to seccomp_X lands in
 * __wrap_seccomp_X, which records it and calls __real_seccomp_X, the library's own function.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>

#include "cache.h"

scmp_filter_ctx __real_seccomp_init(uint32_t def_action);
int __real_seccomp_reset(scmp_filter_ctx ctx, uint32_t def_action);
void __real_seccomp_release(scmp_filter_ctx ctx);
int __real_seccomp_merge(scmp_filter_ctx ctx_dst, scmp_filter_ctx ctx_src);
int __real_seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int __real_seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token);
int __real_seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token);
int __real_seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
int __real_seccomp_attr_get(const scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t *value);
int __real_seccomp_syscall_priority(scmp_filter_ctx ctx, int syscall, uint8_t priority);
int __real_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
				  unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int __real_seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
					unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int __real_seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
int __real_seccomp_export_pfc(const scmp_filter_ctx ctx, int fd);
int __real_seccomp_load(const scmp_filter_ctx ctx);

/* A cache file: magic, record length, record, program length, program (lengths little-endian u32). */
static const char file_magic[8] = "BSCMPC1\n";
#define MAX_FILE (8u << 20)
#define MAX_CANDS 32

/*
 * How the recorded context relates to the real one:
 *  REAL: every recorded call was made on the real context.
 *  SPECULATIVE: the calls after applied_upto were only recorded; their return codes came from
 *  cache entries whose records began the same way (libseccomp is deterministic for a given
 *  version, kernel API level and sequence of calls). Adding ~400 rules costs libseccomp
 *  milliseconds, so they are only made when the program has to be generated after all.
 */
enum { REAL, SPECULATIVE };

struct cand {
	unsigned char *buf;	/* the whole file */
	size_t rec_len, prog_off, prog_len;
	char name[24];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int cache_dir = -1;	/* O_PATH directory, -1: no cache */
static scmp_filter_ctx rec_ctx;	/* the context being recorded */
static int rec_ok;		/* 0 once rec_ctx was shaped in a way that is not recorded */
static int mode;		/* REAL or SPECULATIVE */
static int poisoned;		/* a replay did not return what speculation promised */
static size_t applied_upto;	/* record bytes whose calls were made on the real context */
static size_t header_len;	/* record bytes before the first call */
static unsigned char *rec_buf;
static size_t rec_len, rec_cap;
static struct cand cands[MAX_CANDS];
static int n_cands;
static unsigned long n_hits, n_misses, n_spec;

/*
 * In libcontainer's init (and exec's setns init) the working directory is the container's
 * rootfs on the host until nsenter and the Go side move the process into the container. Priority
 * 200 runs this before nsenter's constructor (default priority), so the descriptor is opened in
 * the host's mount namespace and inherited by nsenter's children.
 */
__attribute__((constructor(200))) static void open_cache_dir(void)
{
	struct stat st;
	int fd;

	if (getenv("_LIBCONTAINER_INITPIPE") == NULL)
		return;
	fd = open(BERTH_SCMP_REL, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022) != 0) {
		close(fd);
		return;
	}
	cache_dir = fd;
}

int berth_scmp_use(int dirfd)
{
	int old;

	pthread_mutex_lock(&mu);
	old = cache_dir;
	cache_dir = dirfd;
	pthread_mutex_unlock(&mu);
	return old;
}

void berth_scmp_stats(unsigned long *hits, unsigned long *misses, unsigned long *spec)
{
	pthread_mutex_lock(&mu);
	*hits = n_hits;
	*misses = n_misses;
	*spec = n_spec;
	pthread_mutex_unlock(&mu);
}

static void rec_put(const void *p, size_t n)
{
	unsigned char *nb;
	size_t cap;

	if (!rec_ok)
		return;
	if (rec_len + n > rec_cap) {
		cap = rec_cap ? rec_cap : 16384;
		while (cap < rec_len + n)
			cap *= 2;
		nb = realloc(rec_buf, cap);
		if (nb == NULL) {
			rec_ok = 0;
			return;
		}
		rec_buf = nb;
		rec_cap = cap;
	}
	memcpy(rec_buf + rec_len, p, n);
	rec_len += n;
}

static void rec_u8(uint8_t v) { rec_put(&v, 1); }
static void rec_u32(uint32_t v) { rec_put(&v, 4); }
static void rec_u64(uint64_t v) { rec_put(&v, 8); }

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* recording tells whether ctx is the recorded context; the caller holds mu. */
static int recording(const scmp_filter_ctx ctx) { return ctx != NULL && ctx == rec_ctx && rec_ok; }

static void drop_cands(void)
{
	int i;

	for (i = 0; i < n_cands; i++)
		free(cands[i].buf);
	n_cands = 0;
}

/* op_len is the length of the recorded call at p (up to end), 0 if it is malformed. */
static size_t op_len(const unsigned char *p, const unsigned char *end)
{
	size_t n;

	if (p >= end)
		return 0;
	switch (p[0]) {
	case 'A':
	case 'a':
		n = 1 + 4 + 4;
		break;
	case 'T':
		n = 1 + 4 + 4 + 4;
		break;
	case 'R':
	case 'E':
		if (end - p < 13)
			return 0;
		n = 1 + 4 + 4 + 4 + (size_t)get_u32(p + 9) * 24 + 4;
		break;
	default:
		return 0;
	}
	return (size_t)(end - p) >= n ? n : 0;
}

/*
 * replay makes the recorded calls after applied_upto on the real context, in order, all of them
 * or (rules) only the leading ones that are not rules (architectures, attributes: what
 * seccomp_attr_get and seccomp_arch_exist read). A call that returns other than recorded poisons
 * the context: what its caller was told no longer holds, so it is never exported or loaded.
 */
static void replay(int rules)
{
	const unsigned char *p, *end = rec_buf + rec_len;
	struct scmp_arg_cmp args[8];
	unsigned int i, argc;
	size_t n, off;
	int rc, seen_rule = 0;

	/* Only leading non-rules can be made alone: one after a rule means making all of them. */
	for (off = applied_upto; !rules && off < rec_len; off += n) {
		p = rec_buf + off;
		n = op_len(p, end);
		if (n == 0)
			break;
		if (p[0] == 'R' || p[0] == 'E')
			seen_rule = 1;
		else if (seen_rule)
			rules = 1;
	}
	while (applied_upto < rec_len) {
		p = rec_buf + applied_upto;
		n = op_len(p, end);
		if (n == 0) {
			poisoned = 1;
			return;
		}
		if ((p[0] == 'R' || p[0] == 'E') && !rules)
			return;
		switch (p[0]) {
		case 'A':
			rc = __real_seccomp_arch_add(rec_ctx, get_u32(p + 1));
			break;
		case 'a':
			rc = __real_seccomp_arch_remove(rec_ctx, get_u32(p + 1));
			break;
		case 'T':
			rc = __real_seccomp_attr_set(rec_ctx, (enum scmp_filter_attr)get_u32(p + 1), get_u32(p + 5));
			break;
		default:
			argc = get_u32(p + 9);
			if (argc > 8) {
				poisoned = 1;
				return;
			}
			for (i = 0; i < argc; i++) {
				args[i].arg = get_u32(p + 13 + i * 24);
				args[i].op = (enum scmp_compare)get_u32(p + 17 + i * 24);
				args[i].datum_a = get_u64(p + 21 + i * 24);
				args[i].datum_b = get_u64(p + 29 + i * 24);
			}
			if (p[0] == 'R')
				rc = __real_seccomp_rule_add_array(rec_ctx, get_u32(p + 1), (int)get_u32(p + 5), argc, args);
			else
				rc = __real_seccomp_rule_add_exact_array(rec_ctx, get_u32(p + 1), (int)get_u32(p + 5), argc, args);
		}
		if ((uint32_t)rc != get_u32(p + n - 4))
			poisoned = 1;
		applied_upto += n;
	}
	mode = REAL;
	drop_cands();
}

/* flush makes every recorded call on the real context (before it is read whole or let go). */
static void flush(void)
{
	if (rec_ctx != NULL && mode == SPECULATIVE)
		replay(1);
}

/* load_cands reads the cache entries whose records begin with this context's header. */
static void load_cands(void)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dfd, fd;

	drop_cands();
	if (cache_dir < 0)
		return;
	dfd = openat(cache_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(d)) != NULL && n_cands < MAX_CANDS) {
		struct cand c;
		size_t size, off;

		if (strlen(de->d_name) != 16 || de->d_name[0] == '.')
			continue;
		fd = openat(cache_dir, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(&c, 0, sizeof(c));
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE ||
		    (size_t)st.st_size < sizeof(file_magic) + 8 + header_len) {
			close(fd);
			continue;
		}
		size = (size_t)st.st_size;
		c.buf = malloc(size);
		if (c.buf == NULL || pread(fd, c.buf, size, 0) != (ssize_t)size) {
			free(c.buf);
			close(fd);
			continue;
		}
		close(fd);
		off = sizeof(file_magic);
		c.rec_len = get_u32(c.buf + off);
		off += 4;
		if (memcmp(c.buf, file_magic, sizeof(file_magic)) != 0 || c.rec_len > size - off - 4 ||
		    c.rec_len < header_len || memcmp(c.buf + off, rec_buf, header_len) != 0) {
			free(c.buf);
			continue;
		}
		c.prog_off = off + c.rec_len + 4;
		c.prog_len = get_u32(c.buf + off + c.rec_len);
		if (c.prog_len == 0 || c.prog_len % 8 != 0 || c.prog_off + c.prog_len != size) {
			free(c.buf);
			continue;
		}
		snprintf(c.name, sizeof(c.name), "%s", de->d_name);
		cands[n_cands++] = c;
	}
	closedir(d);
}

/* cand_rec is candidate i's record. */
static const unsigned char *cand_rec(int i) { return cands[i].buf + sizeof(file_magic) + 4; }

/*
 * speculate answers the call just recorded at rec_buf[at:rec_len] (without its return code)
 * from the candidates that recorded the same calls so far; it appends the code and returns 1, or
 * 0 when no candidate matches (the call must then be made for real).
 */
static int speculate(size_t at, int *rc)
{
	size_t n = rec_len - at;
	uint32_t code = 0;
	int i, k = 0, have = 0;

	for (i = 0; i < n_cands; i++) {
		const unsigned char *r = cand_rec(i);

		if (cands[i].rec_len < rec_len + 4 || memcmp(r + at, rec_buf + at, n) != 0 ||
		    (have && get_u32(r + rec_len) != code)) {
			free(cands[i].buf);
			continue;
		}
		if (!have) {
			code = get_u32(r + rec_len);
			have = 1;
		}
		cands[k++] = cands[i];
	}
	n_cands = k;
	if (!have)
		return 0;
	rec_u32(code);
	*rc = (int)code;
	return 1;
}

scmp_filter_ctx __wrap_seccomp_init(uint32_t def_action)
{
	const struct scmp_version *v;
	scmp_filter_ctx ctx = __real_seccomp_init(def_action);

	if (ctx == NULL)
		return ctx;
	pthread_mutex_lock(&mu);
	flush(); /* a context recorded before: its calls are all made before it is let go */
	rec_ctx = ctx;
	rec_ok = 1;
	poisoned = 0;
	rec_len = 0;
	/* What else decides the output: the library's version, the kernel's API level, the ABI. */
	v = seccomp_version();
	rec_put("berth-seccomp-record-1", 22);
	rec_u32(v->major);
	rec_u32(v->minor);
	rec_u32(v->micro);
	rec_u32(seccomp_api_get());
	rec_u32(seccomp_arch_native());
	rec_u8('I');
	rec_u32(def_action);
	header_len = rec_len;
	applied_upto = rec_len;
	mode = REAL;
	/*
	 * Speculation only where every reader of a context is wrapped: libseccomp 2.6 adds readers
	 * (seccomp_export_bpf_mem, seccomp_precompute, transactions) that would see the calls
	 * not made yet. Elsewhere every call is made and only the program comes from the cache.
	 */
	if (rec_ok && v->major == 2 && v->minor == 5) {
		load_cands();
		if (n_cands > 0)
			mode = SPECULATIVE;
	}
	pthread_mutex_unlock(&mu);
	return ctx;
}

/* forget stops recording ctx (and any record it took part in), making its calls first. */
static void forget(const scmp_filter_ctx ctx)
{
	pthread_mutex_lock(&mu);
	if (ctx != NULL && ctx == rec_ctx) {
		flush();
		rec_ctx = NULL;
		rec_ok = 0;
		drop_cands();
	}
	pthread_mutex_unlock(&mu);
}

int __wrap_seccomp_reset(scmp_filter_ctx ctx, uint32_t def_action)
{
	forget(ctx);
	return __real_seccomp_reset(ctx, def_action);
}

void __wrap_seccomp_release(scmp_filter_ctx ctx)
{
	pthread_mutex_lock(&mu);
	if (ctx != NULL && ctx == rec_ctx) { /* let go: no need to make the calls */
		rec_ctx = NULL;
		rec_ok = 0;
		drop_cands();
	}
	pthread_mutex_unlock(&mu);
	__real_seccomp_release(ctx);
}

int __wrap_seccomp_merge(scmp_filter_ctx ctx_dst, scmp_filter_ctx ctx_src)
{
	forget(ctx_dst);
	forget(ctx_src);
	return __real_seccomp_merge(ctx_dst, ctx_src);
}

int __wrap_seccomp_syscall_priority(scmp_filter_ctx ctx, int syscall, uint8_t priority)
{
	forget(ctx);
	return __real_seccomp_syscall_priority(ctx, syscall, priority);
}

/*
 * call records a call on the recorded context and gives its return code: from the cache entries
 * while speculating, else by making it (real). The caller holds mu and has recorded the call's
 * arguments from at.
 */
static int call(size_t at, int (*real)(const unsigned char *op))
{
	int rc;

	if (mode == SPECULATIVE) {
		size_t cur = rec_len;

		if (speculate(at, &rc))
			return rc;
		/* No entry shaped like this: make the calls so far, then this one. */
		rec_len = at;
		replay(1);
		rec_len = cur;
	}
	rc = real(rec_buf + at);
	rec_u32((uint32_t)rc);
	applied_upto = rec_len;
	return rc;
}

/* stop_recording makes the recorded calls and stops recording; the caller holds mu. */
static void stop_recording(void)
{
	flush();
	rec_ctx = NULL;
	rec_ok = 0;
	drop_cands();
}

/*
 * record_call ends the recording of a call whose arguments were recorded from at and gives its
 * return code (see call). It returns 0 when the recording failed (out of memory): recording then
 * stops and the caller makes the call itself.
 */
static int record_call(size_t at, int (*real)(const unsigned char *op), int *rc)
{
	if (!rec_ok) {
		rec_ok = 1; /* the record is whole up to at: make those calls */
		rec_len = at;
		stop_recording();
		return 0;
	}
	*rc = call(at, real);
	return 1;
}

static int real_arch_add(const unsigned char *op) { return __real_seccomp_arch_add(rec_ctx, get_u32(op + 1)); }
static int real_arch_remove(const unsigned char *op) { return __real_seccomp_arch_remove(rec_ctx, get_u32(op + 1)); }
static int real_attr_set(const unsigned char *op)
{
	return __real_seccomp_attr_set(rec_ctx, (enum scmp_filter_attr)get_u32(op + 1), get_u32(op + 5));
}

int __wrap_seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token)
{
	int rc;

	pthread_mutex_lock(&mu);
	if (recording(ctx)) {
		size_t at = rec_len;

		rec_u8('A');
		rec_u32(arch_token);
		if (record_call(at, real_arch_add, &rc)) {
			pthread_mutex_unlock(&mu);
			return rc;
		}
	}
	pthread_mutex_unlock(&mu);
	return __real_seccomp_arch_add(ctx, arch_token);
}

int __wrap_seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token)
{
	int rc;

	pthread_mutex_lock(&mu);
	if (recording(ctx)) {
		size_t at = rec_len;

		rec_u8('a');
		rec_u32(arch_token);
		if (record_call(at, real_arch_remove, &rc)) {
			pthread_mutex_unlock(&mu);
			return rc;
		}
	}
	pthread_mutex_unlock(&mu);
	return __real_seccomp_arch_remove(ctx, arch_token);
}

int __wrap_seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value)
{
	int rc;

	pthread_mutex_lock(&mu);
	if (recording(ctx)) {
		size_t at = rec_len;

		rec_u8('T');
		rec_u32((uint32_t)attr);
		rec_u32(value);
		if (record_call(at, real_attr_set, &rc)) {
			pthread_mutex_unlock(&mu);
			return rc;
		}
	}
	pthread_mutex_unlock(&mu);
	return __real_seccomp_attr_set(ctx, attr, value);
}

/* Readers of the context's architectures and attributes: make those calls first. */
int __wrap_seccomp_attr_get(const scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t *value)
{
	pthread_mutex_lock(&mu);
	if (recording(ctx) && mode == SPECULATIVE)
		replay(0);
	pthread_mutex_unlock(&mu);
	return __real_seccomp_attr_get(ctx, attr, value);
}

int __wrap_seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token)
{
	pthread_mutex_lock(&mu);
	if (recording(ctx) && mode == SPECULATIVE)
		replay(0);
	pthread_mutex_unlock(&mu);
	return __real_seccomp_arch_exist(ctx, arch_token);
}

/* Readers of the whole filter: every call first, and never a poisoned one. */
int __wrap_seccomp_export_pfc(const scmp_filter_ctx ctx, int fd)
{
	int bad;

	pthread_mutex_lock(&mu);
	if (recording(ctx))
		flush();
	bad = recording(ctx) && poisoned;
	pthread_mutex_unlock(&mu);
	return bad ? -ECANCELED : __real_seccomp_export_pfc(ctx, fd);
}

int __wrap_seccomp_load(const scmp_filter_ctx ctx)
{
	int bad;

	pthread_mutex_lock(&mu);
	if (recording(ctx))
		flush();
	bad = recording(ctx) && poisoned;
	pthread_mutex_unlock(&mu);
	return bad ? -ECANCELED : __real_seccomp_load(ctx);
}

static void rec_rule(uint8_t kind, uint32_t action, int syscall, unsigned int arg_cnt,
		     const struct scmp_arg_cmp *args)
{
	unsigned int i;

	rec_u8(kind);
	rec_u32(action);
	rec_u32((uint32_t)syscall);
	rec_u32(arg_cnt);
	for (i = 0; args != NULL && i < arg_cnt; i++) {
		rec_u32(args[i].arg);
		rec_u32((uint32_t)args[i].op);
		rec_u64(args[i].datum_a);
		rec_u64(args[i].datum_b);
	}
}

static int real_rule(const unsigned char *op)
{
	struct scmp_arg_cmp args[8];
	unsigned int i, argc = get_u32(op + 9);

	for (i = 0; i < argc; i++) {
		args[i].arg = get_u32(op + 13 + i * 24);
		args[i].op = (enum scmp_compare)get_u32(op + 17 + i * 24);
		args[i].datum_a = get_u64(op + 21 + i * 24);
		args[i].datum_b = get_u64(op + 29 + i * 24);
	}
	if (op[0] == 'R')
		return __real_seccomp_rule_add_array(rec_ctx, get_u32(op + 1), (int)get_u32(op + 5), argc, args);
	return __real_seccomp_rule_add_exact_array(rec_ctx, get_u32(op + 1), (int)get_u32(op + 5), argc, args);
}

static int wrap_rule(uint8_t kind, scmp_filter_ctx ctx, uint32_t action, int syscall,
		     unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	int rc;

	pthread_mutex_lock(&mu);
	if (recording(ctx) && arg_cnt > 8) /* more arguments than a syscall has: not recorded */
		stop_recording();
	if (recording(ctx)) {
		size_t at = rec_len;

		rec_rule(kind, action, syscall, arg_cnt, arg_array);
		if (record_call(at, real_rule, &rc)) {
			pthread_mutex_unlock(&mu);
			return rc;
		}
	}
	pthread_mutex_unlock(&mu);
	if (kind == 'R')
		return __real_seccomp_rule_add_array(ctx, action, syscall, arg_cnt, arg_array);
	return __real_seccomp_rule_add_exact_array(ctx, action, syscall, arg_cnt, arg_array);
}

int __wrap_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
				  unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	return wrap_rule('R', ctx, action, syscall, arg_cnt, arg_array);
}

int __wrap_seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
					unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	return wrap_rule('E', ctx, action, syscall, arg_cnt, arg_array);
}

/* FNV-1a, 64 bits: only names the file; a hit needs the whole record to match. */
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, unsigned char *p, size_t n)
{
	ssize_t r;
	size_t off = 0;

	while (off < n) {
		r = pread(fd, p + off, n - off, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* lookup returns the cached program recorded as rec_buf in name, or NULL. */
static unsigned char *lookup(const char *name, size_t *plen)
{
	struct stat st;
	unsigned char *buf = NULL, *prog = NULL;
	size_t size, off, n;
	int fd;

	fd = openat(cache_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE)
		goto out;
	size = (size_t)st.st_size;
	if (size < sizeof(file_magic) + 4 + rec_len + 4)
		goto out;
	buf = malloc(size);
	if (buf == NULL || read_all(fd, buf, size) != 0)
		goto out;
	off = 0;
	if (memcmp(buf, file_magic, sizeof(file_magic)) != 0)
		goto out;
	off += sizeof(file_magic);
	if (get_u32(buf + off) != rec_len)
		goto out;
	off += 4;
	if (memcmp(buf + off, rec_buf, rec_len) != 0)
		goto out;
	off += rec_len;
	n = get_u32(buf + off);
	off += 4;
	/* A whole number of struct sock_filter (8 bytes), filling the rest of the file exactly. */
	if (n == 0 || n % 8 != 0 || off + n != size)
		goto out;
	prog = malloc(n);
	if (prog == NULL)
		goto out;
	memcpy(prog, buf + off, n);
	*plen = n;
out:
	free(buf);
	close(fd);
	return prog;
}

/* store writes the program for rec_buf as name, atomically (temporary file, fsync, rename). */
static void store(const char *name, const unsigned char *prog, size_t n)
{
	char tmp[64];
	uint32_t len;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), ".tmp-%d-%s", (int)getpid(), name);
	fd = openat(cache_dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	ok = write_all(fd, (const unsigned char *)file_magic, sizeof(file_magic)) == 0;
	len = (uint32_t)rec_len;
	ok = ok && write_all(fd, (unsigned char *)&len, 4) == 0;
	ok = ok && write_all(fd, rec_buf, rec_len) == 0;
	len = (uint32_t)n;
	ok = ok && write_all(fd, (unsigned char *)&len, 4) == 0;
	ok = ok && write_all(fd, prog, n) == 0;
	ok = ok && fsync(fd) == 0;
	close(fd);
	if (!ok || renameat(cache_dir, tmp, cache_dir, name) != 0)
		unlinkat(cache_dir, tmp, 0);
}

/* generate runs libseccomp's export into memory and returns the program. */
static unsigned char *generate(const scmp_filter_ctx ctx, size_t *plen, int *rc)
{
	struct stat st;
	unsigned char *prog = NULL;
	int mfd;

	*rc = 0;
	mfd = memfd_create("berth-seccomp", MFD_CLOEXEC);
	if (mfd < 0)
		return NULL;
	*rc = __real_seccomp_export_bpf(ctx, mfd);
	if (*rc == 0 && fstat(mfd, &st) == 0 && st.st_size > 0 && st.st_size <= MAX_FILE) {
		prog = malloc((size_t)st.st_size);
		if (prog != NULL && read_all(mfd, prog, (size_t)st.st_size) != 0) {
			free(prog);
			prog = NULL;
		}
		*plen = (size_t)st.st_size;
	}
	close(mfd);
	return prog;
}

int __wrap_seccomp_export_bpf(const scmp_filter_ctx ctx, int fd)
{
	unsigned char *prog = NULL;
	size_t n = 0;
	char name[24];
	int i, rc;

	pthread_mutex_lock(&mu);
	if (cache_dir < 0 || !recording(ctx)) {
		pthread_mutex_unlock(&mu);
		return __real_seccomp_export_bpf(ctx, fd);
	}
	if (mode == SPECULATIVE) {
		/* An entry that recorded exactly these calls: its program, without making them. */
		for (i = 0; i < n_cands && prog == NULL; i++) {
			if (cands[i].rec_len != rec_len)
				continue;
			prog = malloc(cands[i].prog_len);
			if (prog != NULL) {
				n = cands[i].prog_len;
				memcpy(prog, cands[i].buf + cands[i].prog_off, n);
			}
		}
		if (prog == NULL)
			flush();
	}
	if (poisoned) {
		pthread_mutex_unlock(&mu);
		free(prog);
		return -ECANCELED;
	}
	if (prog == NULL) {
		snprintf(name, sizeof(name), "%016llx", (unsigned long long)fnv1a(rec_buf, rec_len));
		prog = lookup(name, &n);
		if (prog == NULL) {
			prog = generate(ctx, &n, &rc);
			if (prog == NULL) {
				pthread_mutex_unlock(&mu);
				return rc != 0 ? rc : __real_seccomp_export_bpf(ctx, fd);
			}
			n_misses++;
			store(name, prog, n);
		} else {
			n_hits++;
		}
	} else {
		n_hits++;
		n_spec++;
	}
	pthread_mutex_unlock(&mu);
	rc = write_all(fd, prog, n);
	free(prog);
	return rc;
}
