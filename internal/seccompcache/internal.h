/* Package seccompcache's C side, shared between record.c and store.c: see doc.go. */
#ifndef BERTH_SECCOMPCACHE_INTERNAL_H
#define BERTH_SECCOMPCACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

int __real_seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);

/* A cache file: magic, record length, record, program length, program, FNV-1a of all that
 * (lengths u32, sum u64). */
#define MAX_FILE (8u << 20)
#define MAX_CANDS 32
extern const char file_magic[8];

/* A cache entry that may serve the context being recorded. */
struct cand {
	unsigned char *buf; /* the whole file */
	size_t rec_len, prog_off, prog_len;
};

/* entry_rec is the record held by entry c (after the magic and the record's length). */
static inline const unsigned char *entry_rec(const struct cand *c) { return c->buf + sizeof(file_magic) + 4; }

/* State of record.c that store.c reads; record.c's mutex guards it. */
extern int cache_dir;
extern unsigned char *rec_buf;
extern size_t rec_len, header_len;
extern struct cand cands[MAX_CANDS];
extern int n_cands;

uint32_t get_u32(const unsigned char *p);
uint64_t get_u64(const unsigned char *p);
uint64_t fnv1a(const unsigned char *p, size_t n);
int write_all(int fd, const unsigned char *p, size_t n);
void drop_cands(void);
void load_cands(void);
unsigned char *lookup(const char *name, size_t *plen);
void store(const char *name, const unsigned char *prog, size_t n);
unsigned char *generate(const scmp_filter_ctx ctx, size_t *plen, int *rc);

#endif
