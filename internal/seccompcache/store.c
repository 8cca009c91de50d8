//go:build linux && seccomp

/* The cache's files: reading candidate entries, looking one up, storing one, generating one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

const char file_magic[8] = "BSCMPC2\n";

static int read_all(int fd, unsigned char *p, size_t n);

uint32_t get_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

uint64_t get_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

void drop_cands(void)
{
	int i;

	for (i = 0; i < n_cands; i++)
		free(cands[i].buf);
	n_cands = 0;
}

/*
 * read_entry reads cache file name into c and checks its shape: magic, lengths, a program of
 * whole struct sock_filter (8 bytes), and the FNV-1a sum of everything before it at the end
 * (a damaged file is never served). It returns 0 on success; c->buf is then the caller's.
 */
static int read_entry(const char *name, struct cand *c)
{
	struct stat st;
	size_t size, body;
	int fd;

	memset(c, 0, sizeof(*c));
	fd = openat(cache_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE ||
	    (size_t)st.st_size < sizeof(file_magic) + 4 + 4 + 8 + 8) {
		close(fd);
		return -1;
	}
	size = (size_t)st.st_size;
	c->buf = malloc(size);
	if (c->buf == NULL || read_all(fd, c->buf, size) != 0)
		goto bad;
	close(fd);
	fd = -1;
	body = size - 8;
	if (memcmp(c->buf, file_magic, sizeof(file_magic)) != 0 || fnv1a(c->buf, body) != get_u64(c->buf + body))
		goto bad;
	c->rec_len = get_u32(c->buf + sizeof(file_magic));
	if (c->rec_len > body - sizeof(file_magic) - 8)
		goto bad;
	c->prog_off = sizeof(file_magic) + 4 + c->rec_len + 4;
	c->prog_len = get_u32(c->buf + c->prog_off - 4);
	if (c->prog_len == 0 || c->prog_len % 8 != 0 || c->prog_off + c->prog_len != body)
		goto bad;
	return 0;
bad:
	if (fd >= 0)
		close(fd);
	free(c->buf);
	c->buf = NULL;
	return -1;
}


/* load_cands reads the cache entries whose records begin with this context's header. */
void load_cands(void)
{
	struct dirent *de;
	DIR *d;
	int dfd;

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

		if (strlen(de->d_name) != 16 || de->d_name[0] == '.' || read_entry(de->d_name, &c) != 0)
			continue;
		if (c.rec_len < header_len || memcmp(entry_rec(&c), rec_buf, header_len) != 0) {
			free(c.buf);
			continue;
		}
		cands[n_cands++] = c;
	}
	closedir(d);
}

/* FNV-1a, 64 bits: only names the file; a hit needs the whole record to match. */
uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

int write_all(int fd, const unsigned char *p, size_t n)
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
unsigned char *lookup(const char *name, size_t *plen)
{
	unsigned char *prog = NULL;
	struct cand c;

	if (read_entry(name, &c) != 0)
		return NULL;
	if (c.rec_len == rec_len && memcmp(entry_rec(&c), rec_buf, rec_len) == 0) {
		prog = malloc(c.prog_len);
		if (prog != NULL) {
			memcpy(prog, c.buf + c.prog_off, c.prog_len);
			*plen = c.prog_len;
		}
	}
	free(c.buf);
	return prog;
}

/* store writes the program for rec_buf as name, atomically (temporary file, fsync, rename). */
void store(const char *name, const unsigned char *prog, size_t n)
{
	size_t size = sizeof(file_magic) + 4 + rec_len + 4 + n + 8, off = 0;
	unsigned char *buf;
	uint32_t len;
	uint64_t sum;
	char tmp[64];
	int fd, ok;

	buf = malloc(size);
	if (buf == NULL)
		return;
	memcpy(buf, file_magic, sizeof(file_magic));
	off += sizeof(file_magic);
	len = (uint32_t)rec_len;
	memcpy(buf + off, &len, 4);
	off += 4;
	memcpy(buf + off, rec_buf, rec_len);
	off += rec_len;
	len = (uint32_t)n;
	memcpy(buf + off, &len, 4);
	off += 4;
	memcpy(buf + off, prog, n);
	off += n;
	sum = fnv1a(buf, off);
	memcpy(buf + off, &sum, 8);

	snprintf(tmp, sizeof(tmp), ".tmp-%d-%s", (int)getpid(), name);
	fd = openat(cache_dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ok = write_all(fd, buf, size) == 0 && fsync(fd) == 0;
		close(fd);
		if (!ok || renameat(cache_dir, tmp, cache_dir, name) != 0)
			unlinkat(cache_dir, tmp, 0);
	}
	free(buf);
}

/* generate runs libseccomp's export into memory and returns the program. */
unsigned char *generate(const scmp_filter_ctx ctx, size_t *plen, int *rc)
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

