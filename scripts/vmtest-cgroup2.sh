#!/usr/bin/env bash
# Runs inside ../shared/vmtest's guest (systemd as PID 1, pure cgroup v2) as root, with berth and a
# busybox docker-archive in /mnt/share. Proves the cgroup v2 and systemd paths: see
# scripts/vmtest.sh, which stages the files and boots the guest.
set -u
fail=0
check() { local what=$1; shift; if "$@"; then echo "OK   $what"; else echo "FAIL $what"; fail=1; fi; }
install -m755 /mnt/share/berth /usr/local/bin/berth
export BERTH_ROOT=/var/lib/berth BERTH_RUNROOT=/run/berth
echo "cgroup fs: $(stat -fc %T /sys/fs/cgroup)  pid1: $(cat /proc/1/comm)"
berth load -i /mnt/share/busybox.tar
berth info | grep -E 'Cgroup (Version|Driver)'
check "info says cgroup v2" sh -c 'berth info | grep -q "Cgroup Version: 2"'
check "info says systemd driver" sh -c 'berth info | grep -q "Cgroup Driver: systemd"'
check "run --rm true" berth run --rm --network none busybox true
out=$(berth run --rm --network none busybox sh -c 'exit 3'); rc=$?
check "exit code 3 comes back" test "$rc" = 3
id=$(berth run -d --name v2 -m 64m --pids-limit 50 --cpus 0.5 --network none busybox sleep 1000)
check "run -d" test -n "$id"
cg=$(berth inspect -f '{{.State.Pid}}' v2 | xargs -I{} cat /proc/{}/cgroup)
echo "container cgroup: $cg"
path=/sys/fs/cgroup${cg#0::}
check "memory.max = 64m" test "$(cat $path/memory.max)" = 67108864
check "pids.max = 50" test "$(cat $path/pids.max)" = 50
check "cpu.max = 50000 100000" test "$(cat $path/cpu.max)" = "50000 100000"
check "cgroup is the scope berth-<id>.scope" sh -c "echo '$cg' | grep -q 'system.slice/berth-$id.scope'"
check "systemd knows the scope" systemctl is-active --quiet "berth-$id.scope"
# /run is a tmpfs here: the idle monitor maps berth's code from its copy in /run/berth/exe.
mon=$(ps -o ppid= -p "$(berth inspect -f '{{.State.Pid}}' v2)" | tr -d ' ')
for i in $(seq 50); do
	rss=$(awk '/^Rss:/{print $2}' /proc/$mon/smaps_rollup)
	[ "$rss" -lt 3072 ] && break
	sleep 0.2
done
grep -E '^(Rss|Pss|Anonymous|Shared_Clean|Private_Clean)' /proc/$mon/smaps_rollup | tr -s ' ' | tr '\n' ' '; echo
check "idle monitor RSS $rss kB < 3 MB" test "$rss" -lt 3072
check "idle monitor runs the idle loop" sh -c "tr '\\0' ' ' < /proc/$mon/cmdline | grep -q '^berth __berth-idle /var/lib/berth /run/berth $id'"
# Containers with a terminal or stdin go idle too; stdin reaches the container through the loop.
tid=$(berth run -dit --network none busybox sh)
cid=$(berth create -i --network none busybox cat)
berth start "$cid" >/dev/null
for i in $(seq 50); do
	tmon=$(ps -o ppid= -p "$(berth inspect -f '{{.State.Pid}}' "$tid")" | tr -d ' ')
	cmon=$(ps -o ppid= -p "$(berth inspect -f '{{.State.Pid}}' "$cid")" | tr -d ' ')
	tr '\0' ' ' < /proc/$tmon/cmdline | grep -q '__berth-idle' && tr '\0' ' ' < /proc/$cmon/cmdline | grep -q '__berth-idle' && break
	sleep 0.2
done
check "-it container's monitor idle" sh -c "tr '\\0' ' ' < /proc/$tmon/cmdline | grep -q '^berth __berth-idle'"
check "stdin through the idle loop" sh -c "test \"\$(echo vm-data | berth attach $cid)\" = vm-data"
berth rm -f "$tid" "$cid" >/dev/null
check "seccomp program cached" sh -c 'ls /var/lib/berth/seccomp | grep -q .'
# run's monitor starts before the CLI's Go runtime (earlymon) and then shows its container.
check "monitor command line names its container" sh -c "tr '\\0' ' ' < /proc/$mon/cmdline | grep -q '^berth __berth-[a-z]* /var/lib/berth /run/berth $id'"
# THP is "always" in this guest (Debian's default): the monitor runs without, the container with.
check "monitor without THP, container with" sh -c "grep -q 'THP_enabled:.*0' /proc/$mon/status && grep -q 'THP_enabled:.*1' /proc/$(berth inspect -f '{{.State.Pid}}' v2)/status"
rmid=$(berth run -d --rm --network none busybox sleep 1000)
check "--rm rootfs is volatile" sh -c "grep ' /var/lib/berth/containers/$rmid/merged ' /proc/self/mountinfo | grep -q volatile"
check "--rm container removed when stopped" sh -c "berth stop -t 1 $rmid >/dev/null && ! berth inspect $rmid >/dev/null 2>&1"
berth stats --no-stream v2 && check "stats reads v2" sh -c "berth stats --no-stream --format '{{.MemUsage}}' v2 | grep -q MiB"
check "top" sh -c 'berth top v2 | grep -q sleep'
check "pause" berth pause v2
check "freezer says frozen" grep -q 'frozen 1' $path/cgroup.events
check "unpause" berth unpause v2
check "update memory" berth update -m 128m v2
check "memory.max = 128m" test "$(cat $path/memory.max)" = 134217728
check "exec" berth exec v2 true
out=$(berth run --rm -m 16m --network none busybox sh -c 'x=a; while :; do x=$x$x; done' 2>&1); rc=$?
check "OOM kill gives 137" test "$rc" = 137
# The seeds' filesystem commands and the event journal under systemd and cgroup v2.
echo from-host > /tmp/cp-in
check "cp into a running container" sh -c 'berth cp /tmp/cp-in v2:/cp-in && test "$(berth exec v2 cat /cp-in)" = from-host'
check "cp out of it" sh -c 'berth cp v2:/cp-in /tmp/cp-out && test "$(cat /tmp/cp-out)" = from-host'
check "commit and run the image" sh -c 'berth commit v2 vmtest/committed:1 >/dev/null && test "$(berth run --rm --network none vmtest/committed:1 cat /cp-in)" = from-host'
check "diff lists the file" sh -c 'berth diff v2 | grep -q "^A /cp-in$"'
check "events replay the start" sh -c "berth events --since 10m --until 0s --filter container=v2 | grep -q ' container start '"
check "rm -f" berth rm -f v2
check "cgroup removed" test ! -d "$path"
check "bridge run" berth run --rm busybox true
echo "systemd unit (ExecStart=berth run ...):"
systemd-run --unit berth-unit-test --wait -p Type=exec /usr/local/bin/berth run --rm --network none busybox sh -c 'echo from-unit' ; rc=$?
check "berth run under a systemd unit" test "$rc" = 0
check "no leftover mounts" sh -c '! grep -q /var/lib/berth /proc/self/mountinfo'
exit $fail
