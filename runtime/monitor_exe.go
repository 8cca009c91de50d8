package runtime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// selfExe is how a process reaches its own binary.
const selfExe = "/proc/self/exe"

// sharedExeCopy returns a copy of the running berth binary in the runroot, made once per
// binary and shared by every monitor, when the runroot is a tmpfs (/run on most hosts); "" when
// it is not or the copy cannot be made. A monitor maps its code from there once its container
// runs (see remapExecutable): the kernel maps a tmpfs file page by page, while a binary on ext4 or
// xfs sits in the page cache in large folios that a process maps whole, so that touching a few
// functions maps megabytes.
func (l Layout) sharedExeCopy() string {
	var fs unix.Statfs_t
	if err := unix.Statfs(l.RunRoot, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		return ""
	}
	var st unix.Stat_t
	if err := unix.Stat(selfExe, &st); err != nil {
		return ""
	}
	dir := filepath.Join(l.RunRoot, "exe")
	// The running binary's identity (its inode, even if it was replaced on disk since): a rebuilt
	// or upgraded berth gets its own copy.
	name := fmt.Sprintf("berth-%x-%x-%x-%x", st.Dev, st.Ino, st.Size, st.Mtim.Nano())
	p := filepath.Join(dir, name)
	var cp unix.Stat_t
	if err := unix.Lstat(p, &cp); err == nil && cp.Mode&unix.S_IFMT == unix.S_IFREG && cp.Size == st.Size && cp.Uid == 0 {
		return p
	}
	if err := copyExe(dir, name); err != nil {
		return ""
	}
	removeUnusedExes(dir, name)
	return p
}

// copyExe copies berth to dir/name, atomically.
func copyExe(dir, name string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	src, err := os.Open(selfExe)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := filepath.Join(dir, ".tmp-"+strconv.Itoa(os.Getpid())+"-"+name)
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o500)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// removeUnusedExes deletes the copies of other berth binaries that no process maps any more.
func removeUnusedExes(dir, keep string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var stale []string
	for _, e := range ents {
		if e.Name() != keep && strings.HasPrefix(e.Name(), "berth-") {
			stale = append(stale, filepath.Join(dir, e.Name()))
		}
	}
	if len(stale) == 0 {
		return
	}
	procs, _ := os.ReadDir("/proc")
	for _, pe := range procs {
		if len(stale) == 0 {
			return
		}
		if pe.Name()[0] < '0' || pe.Name()[0] > '9' {
			continue
		}
		maps, err := os.ReadFile(filepath.Join("/proc", pe.Name(), "maps"))
		if err != nil {
			continue
		}
		kept := stale[:0]
		for _, s := range stale {
			if !strings.Contains(string(maps), s) {
				kept = append(kept, s)
			}
		}
		stale = kept
	}
	for _, s := range stale {
		os.Remove(s)
	}
}
