package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// writeFiles creates files (path relative to dir -> contents) and returns dir.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tarOf returns a tar (gzipped with gz) of files.
func tarOf(t *testing.T, files map[string]string, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	tw := tar.NewWriter(&buf)
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	}
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

// noContainers fails when any container is left.
func noContainers(t *testing.T, env *harness.Env) {
	t.Helper()
	if ps := strings.TrimSpace(env.MustRun("ps", "-aq")); ps != "" {
		t.Errorf("containers left: %s", ps)
	}
}

// The seed tutorial's CMD and ENTRYPOINT images: -f, -t, the classic builder's output, and how
// arguments to run replace CMD or go after ENTRYPOINT.
func TestBuildCmdVsEntrypoint(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"dockerfile-cmd-test":        "FROM " + bb + "\nCMD [\"ls\",\"-a\"]\n",
		"dockerfile-entrypoint-test": "FROM " + bb + "\nENTRYPOINT [\"ls\",\"-a\"]\n",
	})
	env.MustRun("build", "-f", filepath.Join(dir, "dockerfile-cmd-test"), "-t", "cmdtest", dir)
	if out := env.MustRun("run", "--rm", "cmdtest"); !strings.Contains(out, "..\n") || !strings.Contains(out, "bin\n") {
		t.Errorf("run cmdtest: %q", out)
	}
	res := env.Run("run", "--rm", "cmdtest", "-l")
	if res.Code != 127 || !strings.Contains(res.Stderr, `"-l"`) {
		t.Errorf("run cmdtest -l should fail to find \"-l\" (127): %s", res)
	}

	out := env.MustRun("build", "-f", filepath.Join(dir, "dockerfile-entrypoint-test"), "-t", "entrypoint", dir)
	re := regexp.MustCompile(`^Sending build context to Docker daemon  [0-9.]+kB
Step 1/2 : FROM ` + regexp.QuoteMeta(bb) + `
 ---> ([0-9a-f]{12})
Step 2/2 : ENTRYPOINT \["ls","-a"\]
 ---> Running in ([0-9a-f]{12})
Removing intermediate container ([0-9a-f]{12})
 ---> ([0-9a-f]{12})
Successfully built ([0-9a-f]{12})
Successfully tagged entrypoint:latest
$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("build output:\n%s", out)
	}
	if m[2] != m[3] || m[4] != m[5] {
		t.Errorf("container or image IDs differ in:\n%s", out)
	}
	if id := strings.TrimSpace(env.MustRun("images", "-q", "entrypoint")); id != m[5] {
		t.Errorf("entrypoint is %s, built %s", id, m[5])
	}
	if out := env.MustRun("run", "--rm", "entrypoint"); !strings.Contains(out, "..\n") {
		t.Errorf("run entrypoint: %q", out)
	}
	if out := env.MustRun("run", "--rm", "entrypoint", "-l"); !strings.HasPrefix(out, "total ") || !strings.Contains(out, " bin") {
		t.Errorf("run entrypoint -l should list long: %q", out)
	}
	noContainers(t, env)
	env.CheckNoLeaks()
}

// Most instructions in one Dockerfile, checked in the image's config, its files and history.
func TestBuildInstructions(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"readme.txt":   "read me\n",
		"conf/a.conf":  "a\n",
		"conf/b/c.txt": "c\n",
		"Dockerfile": `# a comment
FROM ` + bb + `
MAINTAINER tang<root755@163.com>
ENV MYPATH /usr/local
env GREETING="hello world" \
    OTHER=x
WORKDIR $MYPATH
WORKDIR app
RUN echo "$GREETING" > made.txt && \
    mkdir -p /data && echo kept > /data/before.txt
COPY readme.txt ./
COPY conf /etc/conf/
ADD pkg.tar.gz /opt/
ADD pkg.tar.gz /opt/plain.tar.gz
COPY --chown=1000:1000 readme.txt /owned/
LABEL version="1.0" description="a test"
EXPOSE 80 8080/udp
VOLUME ["/data"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5m CMD true
ONBUILD RUN echo triggered > /triggered
USER 0:0
SHELL ["/bin/sh", "-ec"]
CMD echo $MYPATH $GREETING
`,
	})
	if err := os.WriteFile(filepath.Join(dir, "pkg.tar.gz"), tarOf(t, map[string]string{"pkg/in.txt": "inside\n"}, true), 0o644); err != nil {
		t.Fatal(err)
	}
	out := env.MustRun("build", "-t", "instr:1", "--label", "extra=yes", dir)
	if !strings.Contains(out, "Step 21/22 : CMD echo $MYPATH $GREETING") || !strings.Contains(out, "Step 22/22 : LABEL extra=yes") {
		t.Errorf("build output:\n%s", out)
	}
	if got := env.MustRun("run", "--rm", "instr:1"); got != "/usr/local hello world\n" {
		t.Errorf("CMD output %q", got)
	}
	files := env.MustRun("run", "--rm", "instr:1", "sh", "-c",
		"pwd; cat made.txt readme.txt /etc/conf/a.conf /etc/conf/b/c.txt /opt/pkg/in.txt; ls /opt; stat -c '%u:%g' /owned/readme.txt; echo $OTHER")
	want := "/usr/local/app\nhello world\nread me\na\nc\ninside\npkg\nplain.tar.gz\n1000:1000\nx\n"
	if files != want {
		t.Errorf("files in the image:\n%s\nwant:\n%s", files, want)
	}
	cfg := env.MustRun("image", "inspect", "-f",
		"{{.Author}}|{{.Config.WorkingDir}}|{{json .Config.ExposedPorts}}|{{json .Config.Volumes}}|{{.Config.StopSignal}}|{{json .Config.Labels}}|{{len .Config.OnBuild}}|{{json .Config.Shell}}|{{json .Config.Cmd}}|{{json .Config.Healthcheck.Test}}|{{.Config.User}}", "instr:1")
	wantCfg := `tang<root755@163.com>|/usr/local/app|{"80/tcp":{},"8080/udp":{}}|{"/data":{}}|SIGTERM|{"description":"a test","extra":"yes","version":"1.0"}|1|["/bin/sh","-ec"]|["/bin/sh","-ec","echo $MYPATH $GREETING"]|["CMD-SHELL","true"]|0:0` + "\n"
	if cfg != wantCfg {
		t.Errorf("config:\n%s\nwant:\n%s", cfg, wantCfg)
	}
	hist := env.MustRun("history", "--no-trunc", "--format", "{{.CreatedBy}}", "instr:1")
	for _, w := range []string{
		`/bin/sh -c #(nop)  MAINTAINER tang<root755@163.com>`,
		`/bin/sh -c #(nop)  ENV MYPATH=/usr/local`,
		`/bin/sh -c #(nop)  ENV GREETING=hello world OTHER=x`,
		`/bin/sh -c #(nop) WORKDIR /usr/local/app`,
		"/bin/sh -c echo \"$GREETING\" > made.txt &&     mkdir -p /data && echo kept > /data/before.txt",
		`/bin/sh -c #(nop)  EXPOSE 80 8080/udp`,
		`/bin/sh -c #(nop)  VOLUME [/data]`,
		`/bin/sh -c #(nop)  USER 0:0`,
		`/bin/sh -ec #(nop)  CMD ["/bin/sh" "-ec" "echo $MYPATH $GREETING"]`,
	} {
		if !strings.Contains(hist, w+"\n") {
			t.Errorf("history lacks %q:\n%s", w, hist)
		}
	}
	if !regexp.MustCompile(`(?m)^/bin/sh -c #\(nop\) COPY --chown=1000:1000 file:[0-9a-f]{64} in /owned/ $`).MatchString(hist) ||
		!regexp.MustCompile(`(?m)^/bin/sh -c #\(nop\) COPY dir:[0-9a-f]{64} in /etc/conf/ $`).MatchString(hist) {
		t.Errorf("COPY history:\n%s", hist)
	}
	// As Docker: each entry of a built image names the stored image of that step (down to the
	// base image's own entry); only the base image's older entries are <missing>.
	ids := lines(env.MustRun("history", "-q", "instr:1"))
	base := strings.TrimPrefix(strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.Id}}", bb)), "sha256:")[:12]
	baseAt := -1
	for i, id := range ids {
		if id == base {
			baseAt = i
		}
	}
	if baseAt < 5 || ids[0] != strings.TrimSpace(env.MustRun("images", "-q", "instr:1")) || slices.Contains(ids[:baseAt], "<missing>") ||
		len(ids) != baseAt+2 || ids[baseAt+1] != "<missing>" {
		t.Errorf("history IDs %q (base image %s)", ids, base)
	}

	// ONBUILD triggers run in the stage that uses the image.
	child := writeFiles(t, t.TempDir(), map[string]string{"Dockerfile": "FROM instr:1\nRUN cat /triggered\n"})
	out = env.MustRun("build", "-t", "child", child)
	if !strings.Contains(out, "# Executing 1 build trigger\n") || !strings.Contains(out, "triggered\n") {
		t.Errorf("ONBUILD trigger:\n%s", out)
	}
	if ob := env.MustRun("image", "inspect", "-f", "{{json .Config.OnBuild}}", "child"); ob != "null\n" && ob != "[]\n" {
		t.Errorf("child keeps the triggers: %s", ob)
	}
	noContainers(t, env)
	assertNoTemporaries(t, env)
	if vols := strings.TrimSpace(env.MustRun("volume", "ls", "-q")); vols != "" {
		t.Errorf("volumes left by RUN containers: %s", vols)
	}
	env.CheckNoLeaks()
}

// Multi-stage builds with ARG, --build-arg, COPY --from, --target, wildcards and .dockerignore.
func TestBuildStagesArgsIgnore(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	dir := writeFiles(t, t.TempDir(), map[string]string{
		".dockerignore": "secret.txt\n*.log\nsub/*.log\n",
		"secret.txt":    "secret\n",
		"a.txt":         "a\n",
		"b.log":         "b\n",
		"sub/c.txt":     "c\n",
		"sub/d.log":     "d\n",
		"Dockerfile": `ARG BASE=` + bb + `
FROM ${BASE} AS builder
ARG VERSION=1.0
ARG UNSET
RUN echo "v=$VERSION u=${UNSET:-none}" > /version.txt
FROM $BASE AS second
COPY --from=builder /version.txt /from-name/
COPY --from=0 /version.txt /from-index/
COPY *.txt /txt/
COPY . /all/
FROM second AS third
RUN echo third > /third
`,
	})
	out := env.MustRun("build", "--target", "second", "--build-arg", "VERSION=2.5", "--build-arg", "UNUSED=1", "-t", "stages", dir)
	if strings.Contains(out, "third") || !strings.Contains(out, "[Warning] One or more build-args [UNUSED] were not consumed") {
		t.Errorf("--target second built:\n%s", out)
	}
	got := env.MustRun("run", "--rm", "stages", "sh", "-c", "cat /from-name/version.txt /from-index/version.txt; ls /txt; ls -a /all /all/sub")
	want := "v=2.5 u=none\nv=2.5 u=none\na.txt\n/all:\n.\n..\n.dockerignore\nDockerfile\na.txt\nsub\n\n/all/sub:\n.\n..\nc.txt\n"
	if got != want {
		t.Errorf("image files:\n%s\nwant:\n%s", got, want)
	}
	hist := env.MustRun("history", "--no-trunc", "--format", "{{.CreatedBy}}", "stages")
	if strings.Contains(hist, "|") {
		t.Errorf("the final stage's history has RUN lines of the builder stage:\n%s", hist)
	}
	// The builder stage's RUN shows the build arguments it saw.
	env.MustRun("build", "--target", "builder", "--build-arg", "VERSION=2.5", "-t", "builder", dir)
	hist = env.MustRun("history", "--no-trunc", "--format", "{{.CreatedBy}}", "builder")
	if !strings.Contains(hist, "|1 VERSION=2.5 /bin/sh -c echo \"v=$VERSION u=${UNSET:-none}\" > /version.txt\n") {
		t.Errorf("RUN history with build args:\n%s", hist)
	}
	res := env.Run("build", "--target", "nosuch", dir)
	oneLineError(t, res, 1, `target stage "nosuch" could not be found`)
	res = env.Run("build", "-f", "-", dir)
	if res.Code == 0 {
		t.Errorf("empty Dockerfile from stdin built: %s", res)
	}
	noContainers(t, env)
	env.CheckNoLeaks()
}

// Contexts and Dockerfiles on stdin, and -q.
func TestBuildStdin(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	ctxTar := tarOf(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n",
		"f":          "from the tar\n",
	}, true)
	res := env.RunWithStdin(bytes.NewReader(ctxTar), "build", "-t", "fromtar", "-")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Successfully tagged fromtar:latest") {
		t.Fatalf("build - < context.tar.gz: %s", res)
	}
	if out := env.MustRun("run", "--rm", "fromtar"); out != "from the tar\n" {
		t.Errorf("run fromtar: %q", out)
	}
	// A Dockerfile alone on stdin: no context.
	res = env.RunWithStdin(strings.NewReader("FROM "+bb+"\nRUN echo alone > /alone\n"), "build", "-q", "-t", "alone", "-")
	if res.Code != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(res.Stdout) {
		t.Fatalf("build -q - < Dockerfile: %s", res)
	}
	if id := env.MustRun("image", "inspect", "-f", "{{.Id}}", "alone"); id != res.Stdout {
		t.Errorf("-q printed %q, alone is %q", res.Stdout, id)
	}
	// -f - with a folder context.
	dir := writeFiles(t, t.TempDir(), map[string]string{"g": "from the folder\n"})
	res = env.RunWithStdin(strings.NewReader("FROM "+bb+"\nCOPY g /g\n"), "build", "-t", "dashf", "-f", "-", dir)
	if res.Code != 0 {
		t.Fatalf("build -f - DIR: %s", res)
	}
	if out := env.MustRun("run", "--rm", "dashf", "cat", "/g"); out != "from the folder\n" {
		t.Errorf("dashf: %q", out)
	}
	res = env.RunWithStdin(strings.NewReader(""), "build", "-f", "-", "-")
	oneLineError(t, res, 1, "can't use stdin for both build context and dockerfile")
	noContainers(t, env)
	assertNoTemporaries(t, env)
	env.CheckNoLeaks()
}

// Failures: a failing RUN (docker exits with its code; --force-rm removes its container), an
// unknown instruction, a missing file, a missing Dockerfile. Nothing is tagged.
func TestBuildFailures(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	before := imageIDs(t, env)
	dir := writeFiles(t, t.TempDir(), map[string]string{"Dockerfile": "FROM " + bb + "\nRUN echo before\nRUN exit 3\n"})

	res := env.Run("build", "--force-rm", "-t", "failed", dir)
	if res.Code != 3 || strings.TrimSpace(res.Stderr) != "The command '/bin/sh -c exit 3' returned a non-zero code: 3" {
		t.Errorf("failing RUN: %s", res)
	}
	noContainers(t, env)
	if r := env.Run("image", "inspect", "failed"); r.Code == 0 {
		t.Error("a failed build tagged its image")
	}
	// Without --force-rm the failed step's container stays, as Docker's.
	res = env.Run("build", dir)
	if res.Code != 3 {
		t.Errorf("failing RUN: %s", res)
	}
	ps := lines(env.MustRun("ps", "-a", "--format", "{{.Status}} {{.Command}}"))
	if len(ps) != 1 || !strings.HasPrefix(ps[0], "Exited (3)") {
		t.Errorf("containers after a failed build: %q", ps)
	}
	env.MustRun("container", "prune", "-f")

	bad := writeFiles(t, t.TempDir(), map[string]string{"Dockerfile": "FROM " + bb + "\nFOO bar\n"})
	oneLineError(t, env.Run("build", bad), 1, "dockerfile parse error on line 2: unknown instruction: FOO")
	missing := writeFiles(t, t.TempDir(), map[string]string{"Dockerfile": "FROM " + bb + "\nCOPY nothere.txt /\n"})
	oneLineError(t, env.Run("build", missing), 1, "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere.txt: file does not exist")
	oneLineError(t, env.Run("build", t.TempDir()), 1, "unable to prepare context: unable to evaluate symlinks in Dockerfile path")
	oneLineError(t, env.Run("build", "-t", "Bad:Tag", dir), 1, "invalid reference format")

	after := imageIDs(t, env)
	tagged := 0
	for _, l := range lines(env.MustRun("images", "--format", "{{.Repository}}")) {
		if l != "<none>" {
			tagged++
		}
	}
	if tagged != 1 || len(after) < len(before) {
		t.Errorf("images after failed builds: %v", env.MustRun("images"))
	}
	noContainers(t, env)
	assertNoTemporaries(t, env)
	env.CheckNoLeaks()
}

// stepIDs returns the image ID (12 characters) each step of a build's output ended on, FROM
// first.
func stepIDs(out string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`(?m)^Step \d+/\d+ : (?:.*\n)*? ---> ([0-9a-f]{12})$`).FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// The classic builder's cache: a second build reuses every step's image; a build argument RUN
// sees, a changed file or mode of a COPY source miss from that step on; --no-cache runs all.
func TestBuildCache(t *testing.T) {
	env := harness.New(t)
	bb := env.Pull("busybox")
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"a.txt": "a\n",
		"Dockerfile": "FROM " + bb + "\nARG V=1\nENV E=e\nWORKDIR /w\nCOPY a.txt ./\nRUN echo $V > v.txt\n" +
			"CMD [\"cat\", \"v.txt\", \"a.txt\"]\n",
	})
	first := env.MustRun("build", "-t", "cached:1", dir)
	if strings.Contains(first, "Using cache") {
		t.Fatalf("first build used a cache:\n%s", first)
	}
	id := strings.TrimSpace(env.MustRun("images", "-q", "cached:1"))
	hits := func(out string) int { return strings.Count(out, " ---> Using cache\n") }

	second := env.MustRun("build", "-t", "cached:2", dir)
	if hits(second) != 6 || strings.Contains(second, "Running in") || strings.Contains(second, "Removing intermediate container") ||
		!regexp.MustCompile(`(?m)^Step 6/7 : RUN echo \$V > v.txt\n ---> Using cache\n ---> [0-9a-f]{12}\nStep 7/7 `).MatchString(second) {
		t.Errorf("second build:\n%s", second)
	}
	if got := strings.TrimSpace(env.MustRun("images", "-q", "cached:2")); got != id || !strings.Contains(second, "Successfully built "+id+"\n") {
		t.Errorf("second build made %s, the first %s", got, id)
	}
	if a, b := stepIDs(first), stepIDs(second); strings.Join(a, " ") != strings.Join(b, " ") || len(a) != 7 {
		t.Errorf("step images differ: %v, %v", a, b)
	}

	// A build argument RUN sees is in its key: RUN and the steps after miss.
	out := env.MustRun("build", "--build-arg", "V=2", "-t", "cached:v2", dir)
	if hits(out) != 4 || !strings.Contains(out, "Step 6/7 : RUN echo $V > v.txt\n ---> Running in ") {
		t.Errorf("build with another build argument:\n%s", out)
	}
	if got := env.MustRun("run", "--rm", "cached:v2"); got != "2\na\n" {
		t.Errorf("run cached:v2: %q", got)
	}
	// A COPY source's content, then its mode: COPY and the steps after miss.
	writeFiles(t, dir, map[string]string{"a.txt": "changed\n"})
	out = env.MustRun("build", "-t", "cached:changed", dir)
	if hits(out) != 3 || strings.Contains(out, "Step 5/7 : COPY a.txt ./\n ---> Using cache") {
		t.Errorf("build with a changed file:\n%s", out)
	}
	if got := env.MustRun("run", "--rm", "cached:changed"); got != "1\nchanged\n" {
		t.Errorf("run cached:changed: %q", got)
	}
	writeFiles(t, dir, map[string]string{"a.txt": "a\n"})
	if out := env.MustRun("build", "-q", dir); out != "sha256:"+imageFullID(t, env, id)+"\n" {
		t.Errorf("the first content again should give the first image: %q", out)
	}
	if err := os.Chmod(filepath.Join(dir, "a.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	out = env.MustRun("build", "-t", "cached:mode", dir)
	if hits(out) != 3 {
		t.Errorf("build with a changed mode:\n%s", out)
	}
	if got := env.MustRun("run", "--rm", "cached:mode", "stat", "-c", "%a", "a.txt"); got != "755\n" {
		t.Errorf("mode of a.txt: %q", got)
	}

	// --no-cache runs every step.
	out = env.MustRun("build", "--no-cache", "-t", "cached:nocache", dir)
	if hits(out) != 0 || strings.Count(out, "Running in") != 5 {
		t.Errorf("build --no-cache:\n%s", out)
	}
	if got := strings.TrimSpace(env.MustRun("images", "-q", "cached:nocache")); got == strings.TrimSpace(env.MustRun("images", "-q", "cached:mode")) {
		t.Errorf("--no-cache gave the cached image %s", got)
	}
	noContainers(t, env)
	assertNoTemporaries(t, env)
	env.CheckNoLeaks()
}

// imageFullID returns the full hex ID of the image ref names.
func imageFullID(t *testing.T, env *harness.Env, ref string) string {
	t.Helper()
	return strings.TrimPrefix(strings.TrimSpace(env.MustRun("image", "inspect", "-f", "{{.Id}}", ref)), "sha256:")
}
