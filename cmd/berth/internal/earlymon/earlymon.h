#ifndef BERTH_EARLYMON_H
#define BERTH_EARLYMON_H

#include <stddef.h>

/* The monitor started before the Go runtime (see earlymon.go): its process ID, the CLI's end of
 * its report pipe (its descriptor 3) and of its orders pipe (its descriptor 4), or -1. */
extern int berth_early_pid;
extern int berth_early_sync;
extern int berth_early_orders;

/* berth_early_retitle writes n bytes (NUL-separated arguments) over this process's command line
 * after argv[1], as /proc/PID/cmdline shows it, and clears the rest of the room. It returns -1,
 * changing nothing, when this process is not a pending monitor or the bytes do not fit. */
int berth_early_retitle(const char *buf, size_t n);

#endif
