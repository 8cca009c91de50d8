package network

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// dumpRetries bounds how often an interrupted netlink dump is run again.
const dumpRetries = 5

// redump runs a netlink dump (a list of links or routes) again while the kernel reports that it
// was interrupted by a concurrent change (NLM_F_DUMP_INTR, netlink.ErrDumpInterrupted: the
// entries may be incomplete or inconsistent), as happens when other containers' interfaces come
// and go meanwhile. After dumpRetries interrupted dumps the last error is returned.
func redump[T any](dump func() ([]T, error)) ([]T, error) {
	var (
		out []T
		err error
	)
	for i := 0; i < dumpRetries; i++ {
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}

// linkList is netlink.LinkList, run again when interrupted.
func linkList() ([]netlink.Link, error) { return redump(netlink.LinkList) }
