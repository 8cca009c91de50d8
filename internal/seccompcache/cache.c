//go:build linux && seccomp

/*
 * Records how a libseccomp filter context is shaped and serves its BPF from a cache keyed by
 * that record. The wrapped functions are reached through the linker's --wrap option (see the
 * #cgo LDFLAGS in cache.go): every call the Go bindings make to seccomp_X lands in
 * __wrap_seccomp_X, which records it and calls __real_seccomp_X, the library's own function.
 */
#define _GNU_SOURCE
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
int __real_seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
int __real_seccomp_syscall_priority(scmp_filter_ctx ctx, int syscall, uint8_t priority);
int __real_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
				  unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int __real_seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
					unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int __real_seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);

/* A cache file: magic, record length, record, program length, program (lengths little-endian u32). */
static const char file_magic[8] = "BSCMPC1\n";
#define MAX_FILE (8u << 20)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int cache_dir = -1;	/* O_PATH directory, -1: no cache */
static scmp_filter_ctx rec_ctx;	/* the context being recorded */
static int rec_ok;		/* 0 once rec_ctx was shaped in a way that is not recorded */
static unsigned char *rec_buf;
static size_t rec_len, rec_cap;
static unsigned long n_hits, n_misses;

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

void berth_scmp_stats(unsigned long *hits, unsigned long *misses)
{
	pthread_mutex_lock(&mu);
	*hits = n_hits;
	*misses = n_misses;
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

/* recording tells whether ctx is the recorded context; the caller holds mu. */
static int recording(const scmp_filter_ctx ctx) { return ctx != NULL && ctx == rec_ctx && rec_ok; }

scmp_filter_ctx __wrap_seccomp_init(uint32_t def_action)
{
	const struct scmp_version *v;
	scmp_filter_ctx ctx = __real_seccomp_init(def_action);

	if (ctx == NULL)
		return ctx;
	pthread_mutex_lock(&mu);
	rec_ctx = ctx;
	rec_ok = 1;
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
	pthread_mutex_unlock(&mu);
	return ctx;
}

/* forget stops recording ctx (and any record it took part in). */
static void forget(const scmp_filter_ctx ctx)
{
	pthread_mutex_lock(&mu);
	if (ctx != NULL && ctx == rec_ctx) {
		rec_ctx = NULL;
		rec_ok = 0;
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
	forget(ctx);
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

int __wrap_seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token)
{
	int rc = __real_seccomp_arch_add(ctx, arch_token);

	pthread_mutex_lock(&mu);
	if (recording(ctx)) {
		rec_u8('A');
		rec_u32(arch_token);
		rec_u32((uint32_t)rc);
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

int __wrap_seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch_token)
{
	int rc = __real_seccomp_arch_remove(ctx, arch_token);

	pthread_mutex_lock(&mu);
	if (recording(ctx)) {
		rec_u8('a');
		rec_u32(arch_token);
		rec_u32((uint32_t)rc);
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

int __wrap_seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value)
{
	int rc = __real_seccomp_attr_set(ctx, attr, value);

	pthread_mutex_lock(&mu);
	if (recording(ctx)) {
		rec_u8('T');
		rec_u32((uint32_t)attr);
		rec_u32(value);
		rec_u32((uint32_t)rc);
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

static void rec_rule(uint8_t kind, uint32_t action, int syscall, unsigned int arg_cnt,
		     const struct scmp_arg_cmp *args, int rc)
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
	rec_u32((uint32_t)rc);
}

int __wrap_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
				  unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	int rc = __real_seccomp_rule_add_array(ctx, action, syscall, arg_cnt, arg_array);

	pthread_mutex_lock(&mu);
	if (recording(ctx))
		rec_rule('R', action, syscall, arg_cnt, arg_array, rc);
	pthread_mutex_unlock(&mu);
	return rc;
}

int __wrap_seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
					unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	int rc = __real_seccomp_rule_add_exact_array(ctx, action, syscall, arg_cnt, arg_array);

	pthread_mutex_lock(&mu);
	if (recording(ctx))
		rec_rule('E', action, syscall, arg_cnt, arg_array, rc);
	pthread_mutex_unlock(&mu);
	return rc;
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

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
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
	unsigned char *prog;
	size_t n = 0;
	char name[24];
	int rc;

	pthread_mutex_lock(&mu);
	if (cache_dir < 0 || !recording(ctx)) {
		pthread_mutex_unlock(&mu);
		return __real_seccomp_export_bpf(ctx, fd);
	}
	snprintf(name, sizeof(name), "%016llx", (unsigned long long)fnv1a(rec_buf, rec_len));
	prog = lookup(name, &n);
	if (prog != NULL) {
		n_hits++;
	} else {
		prog = generate(ctx, &n, &rc);
		if (prog == NULL) {
			pthread_mutex_unlock(&mu);
			return rc != 0 ? rc : __real_seccomp_export_bpf(ctx, fd);
		}
		n_misses++;
		store(name, prog, n);
	}
	pthread_mutex_unlock(&mu);
	rc = write_all(fd, prog, n);
	free(prog);
	return rc;
}
