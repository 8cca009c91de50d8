package integration

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// cpTarNames lists the entry names of a tar.
func cpTarNames(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		out = append(out, h.Name)
	}
}

func cpWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func cpRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("read %s: %v", p, err)
	}
	return string(b)
}

// cpFiles lists the regular files under dir as "rel=content", sorted.
func cpFiles(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel+"="+string(b))
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

func cpOwner(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return st.Uid, st.Gid
}

// The tutorial's case: a file made in a container with exec, copied out after a stop, into an
// existing folder; with no terminal nothing is printed.
func TestCpSeedFromStoppedContainer(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "seed", "--network", "none", img, "sleep", "100")
	env.MustRun("exec", "seed", "sh", "-c", "mkdir -p /home && cd /home && echo hello > ceshi.java")
	env.MustRun("stop", "-t", "0", "seed")
	dir := t.TempDir()
	res := env.Run("cp", "seed:/home/ceshi.java", dir)
	if res.Code != 0 || res.Stdout != "" || res.Stderr != "" {
		t.Fatalf("cp: %s", res)
	}
	if got := cpRead(t, filepath.Join(dir, "ceshi.java")); got != "hello\n" {
		t.Errorf("copied file = %q", got)
	}
	// The container form, to a new name, and a running container too.
	env.MustRun("container", "cp", "seed:home/ceshi.java", filepath.Join(dir, "renamed"))
	if got := cpRead(t, filepath.Join(dir, "renamed")); got != "hello\n" {
		t.Errorf("container cp to a new name = %q", got)
	}
	env.MustRun("start", "seed")
	env.MustRun("cp", "seed:/home/ceshi.java", filepath.Join(dir, "running"))
	if got := cpRead(t, filepath.Join(dir, "running")); got != "hello\n" {
		t.Errorf("from a running container = %q", got)
	}
	env.MustRun("rm", "-f", "seed")
	env.CheckNoLeaks()
}

// Host to container, into running, stopped and created containers; stopped ones are written
// through their overlay (the file is in the writable layer and seen after a start).
func TestCpIntoContainers(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	src := filepath.Join(t.TempDir(), "in.txt")
	cpWrite(t, src, "data\n")
	old := time.Date(2010, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(src, old, old)
	os.Chmod(src, 0o640)

	env.MustRun("run", "-d", "--name", "run1", "--network", "none", img, "sleep", "100")
	env.MustRun("cp", src, "run1:/tmp")
	if out := env.MustRun("exec", "run1", "sh", "-c", "cat /tmp/in.txt; stat -c '%a %Y' /tmp/in.txt"); out != "data\n640 "+strconv.FormatInt(old.Unix(), 10)+"\n" {
		t.Errorf("running: %q", out)
	}

	env.MustRun("stop", "-t", "0", "run1")
	env.MustRun("cp", src, "run1:/root/new.txt")
	id := ctrID(t, env, "run1")
	if got := cpRead(t, filepath.Join(env.Root, "containers", id, "upper", "root", "new.txt")); got != "data\n" {
		t.Errorf("stopped: not in the writable layer: %q", got)
	}
	env.MustRun("start", "run1")
	if out := env.MustRun("exec", "run1", "cat", "/root/new.txt"); out != "data\n" {
		t.Errorf("stopped then started: %q", out)
	}

	env.MustRun("create", "--name", "created", "--network", "none", img, "cat", "/in.txt")
	env.MustRun("cp", src, "created:/")
	env.MustRun("start", "created")
	if out := env.MustRun("wait", "created"); strings.TrimSpace(out) != "0" {
		t.Errorf("created: exit %s", out)
	}
	if out := env.MustRun("logs", "created"); out != "data\n" {
		t.Errorf("created: %q", out)
	}
	env.MustRun("rm", "-f", "run1", "created")
	env.CheckNoLeaks()
}

// Folders both ways: into an existing folder, to a new name, and the "/." contents form.
func TestCpDirectories(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "dirs", "--network", "none", img, "sleep", "100")
	src := filepath.Join(t.TempDir(), "d")
	cpWrite(t, filepath.Join(src, "a"), "A")
	cpWrite(t, filepath.Join(src, "sub", "b"), "B")

	env.MustRun("exec", "dirs", "mkdir", "/into", "/contents")
	env.MustRun("cp", src, "dirs:/into")
	env.MustRun("cp", src, "dirs:/newname")
	env.MustRun("cp", src+"/.", "dirs:/contents")
	out := env.MustRun("exec", "dirs", "sh", "-c", "cat /into/d/a /into/d/sub/b /newname/a /newname/sub/b /contents/a /contents/sub/b; ls /contents")
	if out != "ABABABa\nsub\n" {
		t.Errorf("in the container: %q", out)
	}

	dst := t.TempDir()
	env.MustRun("cp", "dirs:/into/d", dst)
	env.MustRun("cp", "dirs:/into/d", filepath.Join(dst, "fresh"))
	os.Mkdir(filepath.Join(dst, "cont"), 0o755)
	env.MustRun("cp", "dirs:/into/d/.", filepath.Join(dst, "cont"))
	if got, want := cpFiles(t, dst), "cont/a=A cont/sub/b=B d/a=A d/sub/b=B fresh/a=A fresh/sub/b=B"; got != want {
		t.Errorf("on the host: %s\nwant %s", got, want)
	}
	env.MustRun("rm", "-f", "dirs")
	env.CheckNoLeaks()
}

// "-" streams a tar to stdout and extracts one from stdin.
func TestCpTarStreams(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "tars", "--network", "none", img, "sleep", "100")
	env.MustRun("exec", "tars", "sh", "-c", "mkdir -p /x/y && echo z > /x/y/z")

	out := env.MustRun("cp", "tars:/x", "-")
	if got := strings.Join(cpTarNames(t, []byte(out)), " "); got != "x/ x/y/ x/y/z" {
		t.Errorf("tar of /x: %s", got)
	}
	out = env.MustRun("cp", "tars:/x/y/z", "-")
	if got := strings.Join(cpTarNames(t, []byte(out)), " "); got != "z" {
		t.Errorf("tar of a file: %s", got)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "fromtar/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "fromtar/f", Typeflag: tar.TypeReg, Mode: 0o600, Size: 3, Uid: 42, Gid: 43})
	tw.Write([]byte("hi\n"))
	tw.Close()
	data := buf.Bytes()
	if res := env.RunWithStdin(bytes.NewReader(data), "cp", "-", "tars:/tmp"); res.Code != 0 {
		t.Fatalf("cp - tars:/tmp: %s", res)
	}
	if out := env.MustRun("exec", "tars", "sh", "-c", "cat /tmp/fromtar/f; stat -c '%a %u:%g' /tmp/fromtar/f"); out != "hi\n600 0:0\n" {
		t.Errorf("extracted from stdin: %q", out)
	}
	if res := env.RunWithStdin(bytes.NewReader(data), "cp", "-a", "-", "tars:/tmp"); res.Code != 0 {
		t.Fatalf("cp -a - tars:/tmp: %s", res)
	}
	if out := env.MustRun("exec", "tars", "stat", "-c", "%u:%g", "/tmp/fromtar/f"); out != "42:43\n" {
		t.Errorf("-a from stdin: owner %q", out)
	}
	res := env.RunWithStdin(bytes.NewReader(data), "cp", "-", "tars:/x/y/z")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != `destination "tars:/x/y/z" must be a directory` {
		t.Errorf("stdin to a file: %s", res)
	}
	env.MustRun("rm", "-f", "tars")
	env.CheckNoLeaks()
}

// Ownership: into a container files belong to root unless -a; out of one they belong to the
// caller unless -a.
func TestCpOwnership(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "own", "--network", "none", img, "sleep", "100")
	src := filepath.Join(t.TempDir(), "owned")
	cpWrite(t, src, "x")
	if err := os.Chown(src, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	env.MustRun("cp", src, "own:/tmp/plain")
	env.MustRun("cp", "-a", src, "own:/tmp/archived")
	if out := env.MustRun("exec", "own", "stat", "-c", "%u:%g", "/tmp/plain", "/tmp/archived"); out != "0:0\n1234:5678\n" {
		t.Errorf("into the container: %q", out)
	}

	env.MustRun("exec", "own", "sh", "-c", "echo y > /tmp/app && chown 1000:1000 /tmp/app")
	dst := t.TempDir()
	env.MustRun("cp", "own:/tmp/app", filepath.Join(dst, "plain"))
	env.MustRun("cp", "--archive", "own:/tmp/app", filepath.Join(dst, "archived"))
	if u, g := cpOwner(t, filepath.Join(dst, "plain")); u != uint32(os.Getuid()) || g != uint32(os.Getgid()) {
		t.Errorf("out of the container: owner %d:%d", u, g)
	}
	if u, g := cpOwner(t, filepath.Join(dst, "archived")); u != 1000 || g != 1000 {
		t.Errorf("out with -a: owner %d:%d", u, g)
	}
	env.MustRun("rm", "-f", "own")
	env.CheckNoLeaks()
}

// Symlinks of the container resolve inside it: a link to /etc (absolute or climbing with ..)
// never lets a copy write to or read from the host's /etc, running or stopped; -L follows a
// source link inside the container.
func TestCpSymlinksStayInside(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("run", "-d", "--name", "links", "--network", "none", img, "sleep", "100")
	env.MustRun("exec", "links", "sh", "-c", "ln -s /etc /abs && ln -s ../../../../../../../etc /tmp/rel && ln -s /etc/passwd /pw")
	marker := "berth-cp-escape-" + filepath.Base(t.TempDir())
	src := filepath.Join(t.TempDir(), marker)
	cpWrite(t, src, "inside\n")
	t.Cleanup(func() { os.Remove("/etc/" + marker) })

	check := func(state string) {
		t.Helper()
		env.MustRun("cp", src, "links:/abs/")
		env.MustRun("cp", src, "links:/tmp/rel")
		if _, err := os.Lstat("/etc/" + marker); err == nil {
			t.Fatalf("%s: the copy escaped to the host's /etc", state)
		}
		dst := t.TempDir()
		env.MustRun("cp", "-L", "links:/pw", dst)
		hostPasswd, _ := os.ReadFile("/etc/passwd")
		got := cpRead(t, filepath.Join(dst, "pw"))
		if got == string(hostPasswd) || !strings.HasPrefix(got, "root:") {
			t.Errorf("%s: -L read %q, want the container's /etc/passwd", state, got)
		}
		env.MustRun("cp", "links:/pw", filepath.Join(dst, "link"))
		if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "/etc/passwd" {
			t.Errorf("%s: without -L: %q, %v", state, l, err)
		}
	}
	check("running")
	if out := env.MustRun("exec", "links", "cat", "/etc/"+marker); out != "inside\n" {
		t.Errorf("running: in the container's /etc: %q", out)
	}
	env.MustRun("exec", "links", "rm", "/etc/"+marker)
	env.MustRun("stop", "-t", "0", "links")
	check("stopped")
	env.MustRun("start", "links")
	if out := env.MustRun("exec", "links", "cat", "/etc/"+marker); out != "inside\n" {
		t.Errorf("stopped: in the container's /etc: %q", out)
	}
	env.MustRun("rm", "-f", "links")
	env.CheckNoLeaks()
}

// Paths in volumes and bind mounts are their sources, running or stopped.
func TestCpVolumesAndBinds(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	bind := t.TempDir()
	cpWrite(t, filepath.Join(bind, "fromhost"), "bound\n")
	env.MustRun("run", "-d", "--name", "vols", "--network", "none", "-v", "cpvol:/data", "-v", bind+":/bind", "-v", "cpro:/ro:ro", img, "sleep", "100")
	mp := strings.TrimSpace(env.MustRun("volume", "inspect", "--format", "{{.Mountpoint}}", "cpvol"))
	src := filepath.Join(t.TempDir(), "f")
	cpWrite(t, src, "vol\n")

	env.MustRun("cp", src, "vols:/data/running")
	env.MustRun("stop", "-t", "0", "vols")
	env.MustRun("cp", src, "vols:/data/stopped")
	if got := cpFiles(t, mp); got != "running=vol\n stopped=vol\n" {
		t.Errorf("volume: %q", got)
	}
	dst := t.TempDir()
	env.MustRun("cp", "vols:/bind/fromhost", dst)
	if got := cpRead(t, filepath.Join(dst, "fromhost")); got != "bound\n" {
		t.Errorf("bind, stopped: %q", got)
	}
	res := env.Run("cp", src, "vols:/ro/")
	if res.Code != 1 || strings.TrimSpace(res.Stderr) != "Error response from daemon: mounted volume is marked read-only" {
		t.Errorf("read-only volume: %s", res)
	}
	env.MustRun("start", "vols")
	if out := env.MustRun("exec", "vols", "cat", "/data/stopped"); out != "vol\n" {
		t.Errorf("volume after start: %q", out)
	}
	env.MustRun("rm", "-f", "vols")
	env.MustRun("volume", "rm", "cpvol", "cpro")
	env.CheckNoLeaks()
}

// Errors: one line in Docker's words, exit 1, nothing half-written.
func TestCpErrors(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("create", "--name", "errs", "--network", "none", img, "true")
	env.MustRun("run", "-d", "--name", "rofs", "--read-only", "--network", "none", img, "sleep", "100")
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	cpWrite(t, file, "x")
	dir := filepath.Join(tmp, "dir")
	cpWrite(t, filepath.Join(dir, "in"), "y")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cp", "nope:/x", tmp}, "Error response from daemon: No such container: nope"},
		{[]string{"cp", file, "nope:/x"}, "Error response from daemon: No such container: nope"},
		{[]string{"cp", "errs:/nope", tmp}, "Error response from daemon: Could not find the file /nope in container errs"},
		{[]string{"cp", "errs:/etc/passwd", filepath.Join(tmp, "missing", "x")}, `invalid output path: directory "` + filepath.Join(tmp, "missing") + `" does not exist`},
		{[]string{"cp", "errs:/etc/passwd", filepath.Join(tmp, "newdir") + "/"}, "no such directory"},
		{[]string{"cp", "errs:/etc", file}, "cannot copy directory"},
		{[]string{"cp", file, "errs:/nope/x"}, "Error response from daemon: Could not find the file /nope in container errs"},
		{[]string{"cp", file, "errs:/tmp/newdir/"}, "no such directory"},
		{[]string{"cp", dir, "errs:/etc/passwd"}, "cannot copy directory"},
		{[]string{"cp", filepath.Join(tmp, "nope"), "errs:/tmp"}, "lstat " + filepath.Join(tmp, "nope") + ": no such file or directory"},
		{[]string{"cp", file, "rofs:/"}, "Error response from daemon: container rootfs is marked read-only"},
		{[]string{"cp", "errs:/a", "rofs:/b"}, "copying between containers is not supported"},
		{[]string{"cp", file, tmp}, "must specify at least one container source"},
		{[]string{"cp", "", "errs:/"}, "source can not be empty"},
	} {
		res := env.Run(c.args...)
		if res.Code != 1 || strings.TrimSpace(res.Stderr) != c.want || res.Stdout != "" {
			t.Errorf("berth %s: %s\nwant: %s", strings.Join(c.args, " "), res, c.want)
		}
	}
	if _, err := os.Lstat(filepath.Join(tmp, "newdir")); err == nil {
		t.Errorf("a refused copy left %s", filepath.Join(tmp, "newdir"))
	}
	if res := env.Run("cp", "errs:/etc/passwd"); res.Code != 1 || !strings.Contains(res.Stderr, `"berth cp" requires exactly 2 arguments.`) {
		t.Errorf("one argument: %s", res)
	}
	env.MustRun("rm", "-f", "errs", "rofs")
	env.CheckNoLeaks()
}

// The summary line goes to stderr when asked for (-q=false) or on a terminal, never with -q;
// two copies of one stopped container at once both work.
func TestCpSummaryAndConcurrency(t *testing.T) {
	env := harness.New(t)
	img := env.Pull("busybox")
	env.MustRun("create", "--name", "sum", "--network", "none", img, "true")
	dst := t.TempDir()

	res := env.Run("cp", "-q=false", "sum:/etc/group", filepath.Join(dst, "group"))
	info, _ := os.Stat(filepath.Join(dst, "group"))
	if res.Code != 0 || info == nil || !strings.HasPrefix(res.Stderr, "Successfully copied "+strconv.FormatInt(info.Size(), 10)+"B (transferred 2.05kB) to "+filepath.Join(dst, "group")+"\n") {
		t.Errorf("-q=false: %s", res)
	}
	src := filepath.Join(t.TempDir(), "five")
	cpWrite(t, src, "12345")
	res = env.Run("cp", "-q=false", src, "sum:/tmp")
	if res.Code != 0 || res.Stderr != "Successfully copied 5B (transferred 2.05kB) to sum:/tmp\n" {
		t.Errorf("-q=false into the container: %s", res)
	}

	p := env.StartPTY("cp", "sum:/etc/passwd", filepath.Join(dst, "tty"))
	if r := p.Wait(30 * time.Second); r.Code != 0 || !strings.Contains(r.Stdout, "Successfully copied ") || !strings.Contains(r.Stdout, "to "+filepath.Join(dst, "tty")) {
		t.Errorf("on a terminal: %s", r)
	}
	p = env.StartPTY("cp", "-q", "sum:/etc/passwd", filepath.Join(dst, "quiet"))
	if r := p.Wait(30 * time.Second); r.Code != 0 || strings.Contains(r.Stdout, "Successfully") {
		t.Errorf("-q on a terminal: %s", r)
	}

	results := env.RunParallel(4, func(i int) []string {
		return []string{"cp", src, "sum:/tmp/par" + strconv.Itoa(i)}
	})
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("parallel cp %d: %s", i, r)
		}
	}
	out := env.MustRun("cp", "sum:/tmp", "-")
	if got := strings.Join(cpTarNames(t, []byte(out)), " "); got != "tmp/ tmp/five tmp/par0 tmp/par1 tmp/par2 tmp/par3" {
		t.Errorf("after parallel copies: %s", got)
	}
	env.MustRun("rm", "sum")
	env.CheckNoLeaks()
}
