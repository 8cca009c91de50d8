# Shared helpers of demo.sh and bench.sh (sourced, not run).

# free_port prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# start_registry DIR: starts Debian's docker-registry on a free loopback port with storage in
# DIR, waits until /v2/ answers, and sets REGISTRY_ADDR and REGISTRY_PID.
start_registry() {
	local dir=$1 port
	port=$(free_port) || { echo "no free port" >&2; return 1; }
	mkdir -p "$dir/storage"
	cat >"$dir/config.yml" <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
	/usr/bin/docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
	REGISTRY_PID=$!
	REGISTRY_ADDR=127.0.0.1:$port
	for _ in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$REGISTRY_PID" 2>/dev/null; then
			cat "$dir/registry.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "docker-registry did not start" >&2
	return 1
}

# stop_registry: stops the registry that start_registry started (by PID).
stop_registry() {
	if [ -n "${REGISTRY_PID:-}" ]; then
		kill "$REGISTRY_PID" 2>/dev/null || true
		wait "$REGISTRY_PID" 2>/dev/null || true
		REGISTRY_PID=
	fi
}

# kill_leftovers DIR...: SIGKILLs the processes whose command line or environment names one of
# DIR (berth monitors of a --root under DIR) and the processes in the cgroups of the containers
# under DIR/root/containers, by PID.
kill_leftovers() {
	local d p id f
	for d in "$@"; do
		for id in $(ls "$d/root/containers" 2>/dev/null); do
			for f in /sys/fs/cgroup/*/berth/"$id"/cgroup.procs /sys/fs/cgroup/berth/"$id"/cgroup.procs; do
				[ -f "$f" ] && for p in $(cat "$f"); do kill -9 "$p" 2>/dev/null; done
			done
		done
		for p in /proc/[0-9]*; do
			case "${p#/proc/}" in "$$" | "$BASHPID" | "${REGISTRY_PID:-}") continue ;; esac
			if grep -qsF -- "$d" "$p/environ" "$p/cmdline"; then
				kill -9 "${p#/proc/}" 2>/dev/null
			fi
		done
	done
	return 0
}
