#!/usr/bin/env bash
# make demo: build a busybox image from the host's busybox-static, load it into berth's store
# (BERTH_ROOT, default /var/lib/berth) and run containers from it. Steps that need a feature
# berth does not have yet are reported and skipped; the demo fails only if no container ran.
set -uo pipefail

cd "$(dirname "$0")/.."
. scripts/lib.sh
export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:--mod=mod}"
BERTH=${BERTH:-$PWD/bin/berth}
export BERTH_ROOT=${BERTH_ROOT:-/var/lib/berth}
export BERTH_RUNROOT=${BERTH_RUNROOT:-/run/berth}
PORT=${DEMO_PORT:-8080}
NAME=berth-demo
work=$(mktemp -d /tmp/berth-demo.XXXXXX)

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ berth %s\n' "$*"; "$BERTH" "$@"; }
# http_get HOST PORT: GET / with curl, or with bash's /dev/tcp where curl is missing.
http_get() {
	if command -v curl >/dev/null; then
		curl -fsS -m 2 "http://$1:$2/"
		return
	fi
	local resp
	resp=$(exec 3<>"/dev/tcp/$1/$2" && printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3 && timeout 2 cat <&3) || return 1
	case "$resp" in "HTTP/1."?" 200"*) printf '%s\n' "${resp#*$'\r\n\r\n'}" ;; *) return 1 ;; esac
}
cleanup() {
	"$BERTH" rm -f "$NAME" >/dev/null 2>&1 || true
	stop_registry
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$BERTH" ] || { echo "demo: $BERTH missing: run make build" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then echo "demo: run as root (containers need it)" >&2; exit 1; fi

bold "berth, with its state in $BERTH_ROOT and $BERTH_RUNROOT"
show version

bold "Making busybox:latest from the host's /bin/busybox"
go run ./integration/fixtures/cmd/mkimages -o "$work/busybox.tar" busybox || exit 1
IMAGE=busybox
if show load -i "$work/busybox.tar"; then
	:
else
	echo "(load is not available yet: pulling from a throwaway local registry instead)"
	start_registry "$work/registry" || exit 1
	go run ./integration/fixtures/cmd/mkimages -push "$REGISTRY_ADDR" busybox || exit 1
	show pull "$REGISTRY_ADDR/busybox:latest" || exit 1
	if ! show tag "$REGISTRY_ADDR/busybox:latest" busybox:latest; then
		IMAGE=$REGISTRY_ADDR/busybox:latest
	fi
fi

bold "Images"
show images || echo "(images is not available yet)"

bold "A container that says hello"
if ! show run --rm "$IMAGE" echo "hello from berth"; then
	echo "demo: berth could not run a container" >&2
	exit 1
fi
show run --rm "$IMAGE" sh -c 'echo "I am $(id -un) in $(hostname), pid $$; / has: $(ls / | tr "\n" " ")"' ||
	echo "(could not run the second container)"

bold "A web server on port $PORT"
"$BERTH" rm -f "$NAME" >/dev/null 2>&1 || true
if show run -d --name "$NAME" -p "$PORT:80" "$IMAGE" httpd -f -v -p 80 -h /var/www; then
	show ps || echo "(ps is not available yet)"
	echo "\$ curl http://127.0.0.1:$PORT/"
	ok=
	for _ in $(seq 1 30); do
		if out=$(http_get 127.0.0.1 "$PORT"); then
			echo "$out"
			ok=1
			break
		fi
		sleep 0.2
	done
	[ -n "$ok" ] || echo "(no answer on port $PORT: port publishing may not be available yet)"
	show exec "$NAME" ps || echo "(exec is not available yet)"
	show logs "$NAME" || echo "(logs are not available yet)"
	show rm -f "$NAME" || echo "(rm is not available yet)"
else
	echo "(detached containers or -p are not available yet)"
fi

bold "Done"
show ps -a || true
