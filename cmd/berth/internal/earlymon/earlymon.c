// The early start of a container's monitor: see earlymon.go.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "earlymon.h"

/* Kept in step with runtime.MonitorArg and runtime.PendingMonitorArg. */
#define MONITOR_ARG "__berth-monitor"
#define PENDING_ARG "--pending"
/* Room for "ROOT\0RUNROOT\0ID\0" over the pending monitor's command line; a monitor whose
 * arguments do not fit executes itself again with them (runtime.AwaitMonitorArgs). */
#define TITLE_ROOM 512

int berth_early_pid = -1;
int berth_early_sync = -1;
int berth_early_orders = -1;

/* The writable span of a pending monitor's command line: argv[2] to the end of the last
 * argument. */
static char *title_lo, *title_hi;

/* wants_monitor tells whether argv is `berth [global flags] run ...` or `berth container run
 * ...`: the commands that start a container through a new monitor. Any other global flag
 * (--help, --version, a mistake) means no. */
static int wants_monitor(int argc, char **argv) {
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			break;
		}
		if (strcmp(a, "--root") == 0 || strcmp(a, "--runroot") == 0 || strcmp(a, "--log-level") == 0) {
			i++;
			continue;
		}
		if (strncmp(a, "--root=", 7) == 0 || strncmp(a, "--runroot=", 10) == 0 || strncmp(a, "--log-level=", 12) == 0) {
			continue;
		}
		return 0;
	}
	if (i >= argc) {
		return 0;
	}
	if (strcmp(argv[i], "run") == 0) {
		return 1;
	}
	return strcmp(argv[i], "container") == 0 && i + 1 < argc && strcmp(argv[i + 1], "run") == 0;
}

/* high_cloexec moves fd to a close-on-exec descriptor numbered 10 or more, out of the way of
 * the child's 0-4. */
static int high_cloexec(int fd) {
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	return h;
}

static void spawn_monitor(void) {
	int syncp[2], ordp[2], i;
	if (pipe2(syncp, O_CLOEXEC) != 0) {
		return;
	}
	if (pipe2(ordp, O_CLOEXEC) != 0) {
		close(syncp[0]);
		close(syncp[1]);
		return;
	}
	for (i = 0; i < 2; i++) {
		syncp[i] = high_cloexec(syncp[i]);
		ordp[i] = high_cloexec(ordp[i]);
	}
	if (syncp[0] < 0 || syncp[1] < 0 || ordp[0] < 0 || ordp[1] < 0) {
		goto fail;
	}

	/* The monitor's whole environment, as runtime.monitorEnv builds it. */
	static char trace[4096];
	char *envp[4];
	int n = 0;
	envp[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	envp[n++] = "GOMAXPROCS=1";
	const char *t = getenv("BERTH_TRACE");
	if (t != NULL && t[0] != '\0' && strlen(t) < sizeof(trace) - 13) {
		snprintf(trace, sizeof(trace), "BERTH_TRACE=%s", t);
		envp[n++] = trace;
	}
	envp[n] = NULL;

	static char room[TITLE_ROOM + 1];
	memset(room, ' ', TITLE_ROOM);
	room[TITLE_ROOM] = '\0';
	char *args[] = {"berth", MONITOR_ARG, PENDING_ARG, room, NULL};

	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		goto fail;
	}
	if (posix_spawnattr_init(&attr) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		goto fail;
	}
	int ok = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0) == 0 &&
		posix_spawn_file_actions_adddup2(&fa, 0, 1) == 0 &&
		posix_spawn_file_actions_adddup2(&fa, 0, 2) == 0 &&
		posix_spawn_file_actions_adddup2(&fa, syncp[1], 3) == 0 &&
		posix_spawn_file_actions_adddup2(&fa, ordp[0], 4) == 0 &&
		posix_spawn_file_actions_addclosefrom_np(&fa, 5) == 0 &&
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID) == 0;
	pid_t pid = -1;
	if (ok && posix_spawn(&pid, "/proc/self/exe", &fa, &attr, args, envp) != 0) {
		pid = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (pid <= 0) {
		goto fail;
	}
	close(syncp[1]);
	close(ordp[0]);
	berth_early_pid = pid;
	berth_early_sync = syncp[0];
	berth_early_orders = ordp[1];
	return;
fail:
	for (i = 0; i < 2; i++) {
		if (syncp[i] >= 0) {
			close(syncp[i]);
		}
		if (ordp[i] >= 0) {
			close(ordp[i]);
		}
	}
}

/* Before nsenter's constructor (default priority) and the prefault one: the monitor's process
 * starts while this one starts its Go runtime. */
__attribute__((constructor(300))) static void berth_early_monitor(int argc, char **argv, char **envp) {
	(void)envp;
	if (argc < 2 || argv == NULL || getenv("_LIBCONTAINER_INITPIPE") != NULL) {
		return;
	}
	if (strcmp(argv[1], MONITOR_ARG) == 0) {
		/* No transparent huge pages for a monitor, from its first allocation: where the kernel
		 * gives them to every anonymous mapping (THP "always", Debian's and RHEL's default),
		 * the memory that starting a container touches sits in 2 MB pages and the parts Go
		 * never used stay resident after the monitor's shrink (Go returns only pages it
		 * used): an idle monitor kept ~5 MB of anonymous memory instead of ~2.6 MB. The
		 * container's init turns them back on (internal/heapwarm): its processes
		 * inherit the setting through fork and exec. */
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
		if (argc >= 4 && strcmp(argv[2], PENDING_ARG) == 0) {
			title_lo = argv[2];
			title_hi = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
		}
		return;
	}
	const char *off = getenv("BERTH_NO_EARLY_MONITOR");
	if ((off != NULL && off[0] != '\0') || !wants_monitor(argc, argv)) {
		return;
	}
	spawn_monitor();
}

int berth_early_retitle(const char *buf, size_t n) {
	if (title_lo == NULL || n > (size_t)(title_hi - title_lo)) {
		return -1;
	}
	memcpy(title_lo, buf, n);
	memset(title_lo + n, 0, (size_t)(title_hi - title_lo) - n);
	return 0;
}
