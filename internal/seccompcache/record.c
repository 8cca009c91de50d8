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
#include "internal.h"

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
int __real_seccomp_export_pfc(const scmp_filter_ctx ctx, int fd);
int __real_seccomp_load(const scmp_filter_ctx ctx);

/*
 * How the recorded context relates to the real one:
 *  REAL: every recorded call was made on the real context.
 *  SPECULATIVE: the calls after applied_upto were only recorded; their return codes came from
 *  cache entries whose records began the same way (libseccomp is deterministic for a given
 *  version, kernel API level and sequence of calls). Adding ~400 rules costs libseccomp
 *  milliseconds, so they are only made when the program has to be generated after all.
 */
enum { REAL, SPECULATIVE };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
int cache_dir = -1;	/* O_PATH directory, -1: no cache */
static scmp_filter_ctx rec_ctx;	/* the context being recorded */
static int rec_ok;		/* 0 once rec_ctx was shaped in a way that is not recorded */
static int mode;		/* REAL or SPECULATIVE */
static int poisoned;		/* a replay did not return what speculation promised */
static size_t applied_upto;	/* record bytes whose calls were made on the real context */
size_t header_len;	/* record bytes before the first call */
unsigned char *rec_buf;
size_t rec_len;
static size_t rec_cap;
struct cand cands[MAX_CANDS];
int n_cands;
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

/* recording tells whether ctx is the recorded context; the caller holds mu. */
static int recording(const scmp_filter_ctx ctx) { return ctx != NULL && ctx == rec_ctx && rec_ok; }

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

/* MAX_ARGS is the most argument conditions a recorded rule has (a syscall has six arguments). */
#define MAX_ARGS 8

/* real_op makes the recorded call op on ctx and returns libseccomp's code (not op's). */
static int real_op(scmp_filter_ctx ctx, const unsigned char *op)
{
	struct scmp_arg_cmp args[MAX_ARGS];
	unsigned int i, argc;

	switch (op[0]) {
	case 'A':
		return __real_seccomp_arch_add(ctx, get_u32(op + 1));
	case 'a':
		return __real_seccomp_arch_remove(ctx, get_u32(op + 1));
	case 'T':
		return __real_seccomp_attr_set(ctx, (enum scmp_filter_attr)get_u32(op + 1), get_u32(op + 5));
	}
	argc = get_u32(op + 9);
	for (i = 0; i < argc && i < MAX_ARGS; i++) {
		args[i].arg = get_u32(op + 13 + i * 24);
		args[i].op = (enum scmp_compare)get_u32(op + 17 + i * 24);
		args[i].datum_a = get_u64(op + 21 + i * 24);
		args[i].datum_b = get_u64(op + 29 + i * 24);
	}
	if (op[0] == 'R')
		return __real_seccomp_rule_add_array(ctx, get_u32(op + 1), (int)get_u32(op + 5), argc, args);
	return __real_seccomp_rule_add_exact_array(ctx, get_u32(op + 1), (int)get_u32(op + 5), argc, args);
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
		if ((p[0] == 'R' || p[0] == 'E') && get_u32(p + 9) > MAX_ARGS) {
			poisoned = 1;
			return;
		}
		rc = real_op(rec_ctx, p);
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
		const unsigned char *r = entry_rec(&cands[i]);

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
 * call gives the return code of the call recorded (without its code) from at: from the cache
 * entries while speculating, else by making it. The caller holds mu.
 */
static int call(size_t at)
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
	rc = real_op(rec_ctx, rec_buf + at);
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

/* An op: a call as recorded, without its return code. */
struct op {
	unsigned char b[13 + MAX_ARGS * 24];
	size_t n;
};

static void op_put(struct op *o, const void *p, size_t n)
{
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void op_u32(struct op *o, uint32_t v) { op_put(o, &v, 4); }
static void op_u64(struct op *o, uint64_t v) { op_put(o, &v, 8); }

/*
 * dispatch makes call o on ctx: recorded and answered by call when ctx is being recorded, made
 * directly otherwise (or when recording runs out of memory).
 */
static int dispatch(scmp_filter_ctx ctx, const struct op *o)
{
	int rc;

	pthread_mutex_lock(&mu);
	if (recording(ctx)) {
		size_t at = rec_len;

		rec_put(o->b, o->n);
		if (rec_ok) {
			rc = call(at);
			pthread_mutex_unlock(&mu);
			return rc;
		}
		rec_ok = 1; /* the record is whole up to at: make those calls, then stop */
		rec_len = at;
		stop_recording();
	}
	pthread_mutex_unlock(&mu);
	return real_op(ctx, o->b);
}

static struct op op_arch(uint8_t kind, uint32_t arch_token)
{
	struct op o = {.n = 0};

	op_put(&o, &kind, 1);
	op_u32(&o, arch_token);
	return o;
}

int __wrap_seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token)
{
	struct op o = op_arch('A', arch_token);

	return dispatch(ctx, &o);
}

int __wrap_seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token)
{
	struct op o = op_arch('a', arch_token);

	return dispatch(ctx, &o);
}

int __wrap_seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value)
{
	struct op o = op_arch('T', (uint32_t)attr);

	op_u32(&o, value);
	return dispatch(ctx, &o);
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

/* whole_filter makes every recorded call of ctx before it is read whole; 0 when poisoned. */
static int whole_filter(const scmp_filter_ctx ctx)
{
	int ok;

	pthread_mutex_lock(&mu);
	if (recording(ctx))
		flush();
	ok = !(recording(ctx) && poisoned);
	pthread_mutex_unlock(&mu);
	return ok;
}

/* Readers of the whole filter: every call first, and never a poisoned one. */
int __wrap_seccomp_export_pfc(const scmp_filter_ctx ctx, int fd)
{
	return whole_filter(ctx) ? __real_seccomp_export_pfc(ctx, fd) : -ECANCELED;
}

int __wrap_seccomp_load(const scmp_filter_ctx ctx)
{
	return whole_filter(ctx) ? __real_seccomp_load(ctx) : -ECANCELED;
}

static int wrap_rule(uint8_t kind, scmp_filter_ctx ctx, uint32_t action, int syscall,
		     unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	struct op o = {.n = 0};
	unsigned int i;

	if (arg_cnt > MAX_ARGS || (arg_cnt > 0 && arg_array == NULL)) {
		/* Not a call to record (libseccomp refuses it anyway): stop recording, make it. */
		forget(ctx);
		if (kind == 'R')
			return __real_seccomp_rule_add_array(ctx, action, syscall, arg_cnt, arg_array);
		return __real_seccomp_rule_add_exact_array(ctx, action, syscall, arg_cnt, arg_array);
	}
	op_put(&o, &kind, 1);
	op_u32(&o, action);
	op_u32(&o, (uint32_t)syscall);
	op_u32(&o, arg_cnt);
	for (i = 0; i < arg_cnt; i++) {
		op_u32(&o, arg_array[i].arg);
		op_u32(&o, (uint32_t)arg_array[i].op);
		op_u64(&o, arg_array[i].datum_a);
		op_u64(&o, arg_array[i].datum_b);
	}
	return dispatch(ctx, &o);
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
