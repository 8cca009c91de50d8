#!/usr/bin/env bash
# Installs (apt-get, --no-install-recommends) whichever of the packages that building, testing
# and the demo need is missing. Used by `make deps` and .ci/run. Services that the packages ship
# (docker-registry's system registry on :5000, say) are not started: the tests start their own.
set -euo pipefail

pkgs=(gcc make libc6-dev libseccomp-dev busybox-static docker-registry nftables iproute2
      ca-certificates pkg-config git tmux)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# berth deps.sh: no service starts during this install\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
trap 'if [ -n "$made_policy" ]; then rm -f "$policy"; fi' EXIT
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
