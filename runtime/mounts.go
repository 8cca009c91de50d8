package runtime

import (
	"github.com/opencontainers/runc/libcontainer/configs"
)

// This file is the seam between the container life cycle and package volume. Owned by the volume
// work.

// planMounts is called once at create, after rec.Config and rec.HostConfig are filled (Binds,
// Mounts, Tmpfs, VolumesFrom) and the image's VOLUME entries are known: it creates named and
// anonymous volumes and fills rec.Mounts in Docker's inspect form.
func planMounts(l Layout, rec *Record, imageVolumes map[string]struct{}) error {
	return nil
}

// specMounts is called by the monitor at every start, after the rootfs is mounted at rootfs: it
// copies image content up into empty volumes and returns the mounts for libcontainer.
func specMounts(l Layout, rec *Record, rootfs string) ([]*configs.Mount, error) {
	return nil, nil
}

// releaseMounts is called when the container is removed; removeAnonymous (rm -v, --rm) also
// deletes its anonymous volumes. Named volumes are never removed here.
func releaseMounts(l Layout, rec *Record, removeAnonymous bool) error {
	return nil
}
