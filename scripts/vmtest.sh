#!/usr/bin/env bash
# Boots ../shared/vmtest's systemd + cgroup v2 guest and runs scripts/vmtest-cgroup2.sh in it
# against bin/berth. Needs the guest built once (../shared/vmtest/build-guest.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
VMTEST=${VMTEST:-$(cd ../shared/vmtest && pwd)}
share=${VMTEST_SHARE:-/var/tmp/vmtest/share}
mkdir -p "$share"
cp bin/berth "$share/berth"
GOFLAGS=-mod=mod go run ./integration/fixtures/cmd/mkimages -o "$share/busybox.tar" busybox
VMTEST_SHARE=$share "$VMTEST/vm-run.sh" "$PWD/scripts/vmtest-cgroup2.sh"
