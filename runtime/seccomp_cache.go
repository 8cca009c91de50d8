package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"
)

// seccompCacheDir holds compiled seccomp filters under the runroot (a tmpfs: gone at reboot,
// as it must be, since a filter's flags depend on what the running kernel supports).
func (l Layout) seccompCacheDir() string { return filepath.Join(l.RunRoot, "seccomp") }

// precompileSeccomp fills sc.Compiled so that the container's init (and every exec) loads the
// filter as is instead of building it with libseccomp, which costs some 25 ms of CPU and a
// megabyte of page faults per process on a 2-core VM. Filters are compiled once per
// configuration, binary and kernel, and kept under the runroot. On any failure sc is left as it
// was and libcontainer builds the filter itself.
func precompileSeccomp(l Layout, sc *configs.Seccomp) {
	if sc == nil || sc.Compiled != nil {
		return
	}
	key, err := seccompKey(sc)
	if err != nil {
		return
	}
	path := filepath.Join(l.seccompCacheDir(), key+".json")
	if data, err := os.ReadFile(path); err == nil {
		var c configs.CompiledSeccomp
		if json.Unmarshal(data, &c) == nil && len(c.Program) > 0 && len(c.Program)%8 == 0 {
			setCompiled(sc, &c)
			return
		}
	}
	c, err := seccomp.Compile(sc)
	if err != nil {
		return
	}
	setCompiled(sc, c)
	if data, err := json.Marshal(c); err == nil && os.MkdirAll(l.seccompCacheDir(), 0o700) == nil {
		atomicfile.WriteFile(path, data, 0o600)
	}
}

// setCompiled hands c to libcontainer in place of the rule list: the init decodes its whole
// configuration from JSON (and exec reads it back from libcontainer's state), and the ~400 rules
// of Docker's profile are most of it. Only InitSeccomp reads them, and it loads Compiled instead.
func setCompiled(sc *configs.Seccomp, c *configs.CompiledSeccomp) {
	sc.Compiled = c
	sc.Syscalls = nil
}

// seccompKey names a compiled filter: the configuration, libseccomp's version, the kernel's
// release and this binary's identity (a new berth may patch or compile differently).
func seccompKey(sc *configs.Seccomp) (string, error) {
	data, err := json.Marshal(sc)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(data)
	major, minor, micro := seccomp.Version()
	fmt.Fprintf(h, "\x00libseccomp %d.%d.%d", major, minor, micro)
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", err
	}
	fmt.Fprintf(h, "\x00kernel %s %s", unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Version[:]))
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return "", err
	}
	fmt.Fprintf(h, "\x00exe %d %d %d %d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
	return hex.EncodeToString(h.Sum(nil)), nil
}
