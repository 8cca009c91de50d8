#!/usr/bin/env bash
# make bench: medians of several runs of pull, run, exec and ps, and the memory of the
# per-container monitor. Everything happens in a temporary --root/--runroot against a private
# registry on 127.0.0.1 serving the fixtures (plus big:latest, ~300 MB in 6 random layers).
# Steps that berth cannot do yet print "n/a". BENCH_RUNS (default 10) sets the runs per step;
# BENCH_PODMAN=1 adds podman's figures where podman is installed.
set -uo pipefail

cd "$(dirname "$0")/.."
. scripts/lib.sh
export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:--mod=mod}"
BERTH=${BERTH:-$PWD/bin/berth}
RUNS=${BENCH_RUNS:-10}
PULL_RUNS=${BENCH_PULL_RUNS:-5}

[ -x "$BERTH" ] || { echo "bench: $BERTH missing: run make build" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }

work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
export BERTH_ROOT=$work/root
export BERTH_RUNROOT=$(mktemp -d /tmp/bB.XXXXXX)
# The runroot on a tmpfs, as the default /run/berth is on most hosts (idle monitors map berth's
# code from a copy there: see README "Benchmarks"). cleanup unmounts it.
mount -t tmpfs -o mode=0711,nosuid,nodev tmpfs "$BERTH_RUNROOT" || { echo "bench: cannot mount a tmpfs runroot" >&2; exit 1; }
PULL_ROOT=$work/pullroot
results=()

cleanup() {
	local ids
	ids=$("$BERTH" ps -aq --no-trunc 2>/dev/null)
	[ -n "$ids" ] && "$BERTH" rm -f $ids >/dev/null 2>&1
	kill_leftovers "$work" "$BERTH_RUNROOT"
	# Unmount whatever is left under our directories, newest first.
	for d in "$work" "$BERTH_RUNROOT"; do
		awk -v d="$d" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | tac |
			while read -r m; do umount -l "$m" 2>/dev/null; done
	done
	stop_registry
	rm -rf "$work" "$BERTH_RUNROOT"
	# berth collects the bridges (and nft rules) of stores that no longer exist on any
	# network command: run one in a throwaway store.
	local tmp
	tmp=$(mktemp -d /tmp/bC.XXXXXX)
	BERTH_ROOT=$tmp/root BERTH_RUNROOT=$tmp/run "$BERTH" network prune -f >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# record NAME TARGET UNIT MEDIAN [MIN MAX]: one row of the result table.
record() {
	local name=$1 target=$2 unit=$3 med=$4 min=${5:-} max=${6:-} verdict
	if [ "$med" = n/a ]; then
		verdict=n/a
	elif awk -v m="$med" -v t="$target" 'BEGIN{exit !(m <= t)}'; then
		verdict=ok
	else
		verdict=over
	fi
	# The 1-minute load average when the figure was taken: wall times on a shared VM mean little
	# without it.
	results+=("$(printf '%-44s %10s %10s %10s %10s  %-7s %s' "$name" "$med" "${min:--}" "${max:--}" "<= $target $unit" "$verdict" "$(cut -d' ' -f1 /proc/loadavg)")")
	printf '  %s: %s %s (%s)\n' "$name" "$med" "$unit" "$verdict" >&2
}

# timeit NAME TARGET_MS [benchtime flags] -- COMMAND...: times COMMAND and records it.
timeit() {
	local name=$1 target=$2 out
	shift 2
	last_median=n/a
	if out=$("$work/benchtime" "$@" 2>"$work/err"); then
		# shellcheck disable=SC2086
		record "$name" "$target" ms $out
		last_median=${out%% *}
	else
		echo "  $name failed: $(tail -n 3 "$work/err")" >&2
		record "$name" "$target" ms n/a
	fi
}

say "building tools and fixtures"
go build -o "$work/mkimages" ./integration/fixtures/cmd/mkimages || exit 1
go build -o "$work/benchtime" ./scripts/benchtime || exit 1
start_registry "$work/registry" || exit 1
echo "registry on $REGISTRY_ADDR" >&2
"$work/mkimages" -push "$REGISTRY_ADDR" -big busybox || exit 1
BIG=$REGISTRY_ADDR/big:latest
BB=$REGISTRY_ADDR/busybox:latest

say "pull of big:latest (~300 MB, 6 layers) into an empty root, $PULL_RUNS runs"
timeit "pull big (empty root)" 550 -n "$PULL_RUNS" -warmup 1 \
	-prepare "rm -rf '$PULL_ROOT'" -- env BERTH_ROOT="$PULL_ROOT" "$BERTH" pull -q "$BIG"
rm -rf "$PULL_ROOT"

say "process start, $RUNS runs each"
# What every command, monitor and container init pays before doing anything (a hello-world Go
# binary: ~1 ms on an idle VM).
timeit "berth version (process start)" 10 -n "$RUNS" -warmup 2 -- "$BERTH" version
timeit "ps -a (empty store)" 10 -n "$RUNS" -warmup 2 -- "$BERTH" ps -a

say "run and exec, $RUNS runs each"
if "$BERTH" pull -q "$BB" >/dev/null; then
	timeit "run --rm --network none busybox true" 30 -n "$RUNS" -warmup 2 -- \
		"$BERTH" run --rm --network none "$BB" true
	none_ms=$last_median
	timeit "run --rm busybox true (default network)" 45 -n "$RUNS" -warmup 2 -- \
		"$BERTH" run --rm "$BB" true
	if [ "$none_ms" != n/a ] && [ "$last_median" != n/a ]; then
		record "bridge network cost (bridge - none)" 15 ms \
			"$(awk -v a="$last_median" -v b="$none_ms" 'BEGIN{printf "%.1f", a-b}')"
	else
		record "bridge network cost (bridge - none)" 15 ms n/a
	fi
	timeit "run -d busybox sleep 1000" 40 -n "$RUNS" -warmup 1 -- \
		"$BERTH" run -d "$BB" sleep 1000
	ids=$("$BERTH" ps -aq --no-trunc 2>/dev/null)
	[ -n "$ids" ] && "$BERTH" rm -f $ids >/dev/null 2>&1
	if "$BERTH" run -d --name bench-exec --network none "$BB" sleep 1000 >/dev/null 2>"$work/err"; then
		timeit "exec CTR true" 15 -n "$RUNS" -warmup 2 -- "$BERTH" exec bench-exec true
		"$BERTH" rm -f bench-exec >/dev/null 2>&1
	else
		echo "  run -d failed: $(tail -n 3 "$work/err")" >&2
		record "exec CTR true" 15 ms n/a
	fi

	say "monitor memory: 10 running containers"
	rss_sum=0 pss_sum=0 count=0
	for i in $(seq 1 10); do
		"$BERTH" run -d --network none --name "bench-mem-$i" "$BB" sleep 1000 >/dev/null 2>&1 || break
	done
	sleep 1 # idle monitors: in the idle loop (or past their shrink), 100 ms after each start
	for i in $(seq 1 10); do
		pid=$("$BERTH" inspect -f '{{.State.Pid}}' "bench-mem-$i" 2>/dev/null) || continue
		[ -n "$pid" ] && [ "$pid" != 0 ] || continue
		mon=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || continue
		# The monitor is the container's parent: berth's Go monitor, or its idle loop (run from
		# the binary's copy on the runroot's tmpfs, see README "Benchmarks").
		case "$(tr '\0' ' ' <"/proc/$mon/cmdline" 2>/dev/null)" in
		"berth __berth-monitor "* | "berth __berth-idle "*) ;;
		*) continue ;;
		esac
		read -r rss pss < <(awk '/^Rss:/{r=$2} /^Pss:/{p=$2} END{print r, p}' "/proc/$mon/smaps_rollup")
		rss_sum=$((rss_sum + rss)) pss_sum=$((pss_sum + pss)) count=$((count + 1))
	done
	if [ "$count" -gt 0 ]; then
		record "monitor RSS per container" 3.0 MB "$(awk -v s="$rss_sum" -v c="$count" 'BEGIN{printf "%.2f", s/c/1024}')"
		record "monitor PSS per container" 0.5 MB "$(awk -v s="$pss_sum" -v c="$count" 'BEGIN{printf "%.2f", s/c/1024}')"
	else
		record "monitor RSS per container" 3.0 MB n/a
		record "monitor PSS per container" 0.5 MB n/a
	fi
	ids=$("$BERTH" ps -aq --no-trunc 2>/dev/null)
	[ -n "$ids" ] && "$BERTH" rm -f $ids >/dev/null 2>&1

	say "ps -a with 200 and 1000 containers"
	made=0
	for target in 200 1000; do
		while [ "$made" -lt "$target" ]; do
			if ! "$BERTH" create --network none "$BB" true >/dev/null 2>"$work/err"; then
				echo "  create failed: $(tail -n 3 "$work/err")" >&2
				break
			fi
			made=$((made + 1))
		done
		if [ "$made" -ge "$target" ]; then
			# A steady store: ps trusts its index only for containers whose folder has not
			# changed for 2 s (it reads the JSON of the others, see README "Layout on disk").
			sleep 2.1
			timeit "ps -a ($target containers)" "$([ "$target" = 200 ] && echo 10 || echo 25)" \
				-n "$RUNS" -warmup 2 -- "$BERTH" ps -a
		else
			record "ps -a ($target containers)" "$([ "$target" = 200 ] && echo 10 || echo 25)" ms n/a
		fi
	done
else
	for n in "run --rm --network none busybox true:30" "run --rm busybox true (default network):45" \
		"bridge network cost (bridge - none):15" \
		"run -d busybox sleep 1000:40" "exec CTR true:15" "ps -a (200 containers):10" \
		"ps -a (1000 containers):25"; do
		record "${n%:*}" "${n##*:}" ms n/a
	done
	record "monitor RSS per container" 3.0 MB n/a
	record "monitor PSS per container" 0.5 MB n/a
fi

if [ "${BENCH_PODMAN:-0}" = 1 ] && command -v podman >/dev/null; then
	say "podman, for comparison (--runtime runc)"
	if podman pull -q --tls-verify=false "$BB" >/dev/null 2>&1; then
		timeit "podman: pull big" 100000 -n "$PULL_RUNS" -warmup 0 \
			-prepare "podman rmi -f '$BIG' >/dev/null 2>&1 || true" -- podman pull -q --tls-verify=false "$BIG"
		timeit "podman: run --rm --network none busybox true" 100000 -n "$RUNS" -warmup 2 -- \
			podman run --rm --runtime runc --network none "$BB" true
		podman rmi -f "$BIG" "$BB" >/dev/null 2>&1
	fi
fi

printf '\n%-44s %10s %10s %10s %10s  %-7s %s\n' "berth bench ($(nproc) cores)" median min max target verdict load
for r in "${results[@]}"; do echo "$r"; done
