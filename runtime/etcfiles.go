package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/atomicfile"
)

// writeEtcFiles writes the hostname, hosts and resolv.conf files that are bind-mounted into the
// container. Owned by the network work, which adds the container's IP, links and aliases.
func writeEtcFiles(l Layout, rec *Record, st *State) error {
	dir := l.ContainerDir(rec.ID)
	hostname := rec.Config.Hostname
	if err := atomicfile.WriteFile(filepath.Join(dir, "hostname"), []byte(hostname+"\n"), 0o644); err != nil {
		return err
	}
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	hosts.WriteString("fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	if err := atomicfile.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts.String()), 0o644); err != nil {
		return err
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read host resolv.conf: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, "resolv.conf"), resolv, 0o644)
}
