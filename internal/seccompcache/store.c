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

const char file_magic[8] = "BSCMPC1\n";

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

/* load_cands reads the cache entries whose records begin with this context's header. */
void load_cands(void)
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
void store(const char *name, const unsigned char *prog, size_t n)
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

