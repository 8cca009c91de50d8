/* Package seccompcache's C side: see doc.go. */
#ifndef BERTH_SECCOMPCACHE_H
#define BERTH_SECCOMPCACHE_H

/* The cache directory relative to a container's rootfs; Go's RelDir is the same. */
#define BERTH_SCMP_REL "../../../seccomp"

/* berth_scmp_use makes dirfd (an O_PATH directory, or -1 for off) the cache; returns the old. */
int berth_scmp_use(int dirfd);
/* berth_scmp_stats reports the exports served from the cache, the ones generated, and how many
 * of the first were served without making the filter's calls (speculation). */
void berth_scmp_stats(unsigned long *hits, unsigned long *misses, unsigned long *spec);

#endif
