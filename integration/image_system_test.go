package integration

import (
	"regexp"
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// TestSystemVersionInfo checks version and info output and their -f templates.
func TestSystemVersionInfo(t *testing.T) {
	env := harness.New(t)
	out := env.MustRun("version")
	for _, re := range []string{`(?m)^Client:$`, `(?m)^ Version: +\S+`, `(?m)^ OS/Arch: +linux/`, `(?m)^Server: `, `(?m)^  API version: +1\.\d+`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("version lacks %s:\n%s", re, out)
		}
	}
	if v := env.MustRun("version", "-f", "{{.Server.Version}}"); strings.TrimSpace(v) == "" || v != env.MustRun("version", "-f", "{{.Client.Version}}") {
		t.Errorf("version -f: %q", v)
	}

	env.Pull("busybox")
	out = env.MustRun("info")
	for _, re := range []string{`(?m)^ Images: 1$`, `(?m)^ Containers: 0$`, `(?m)^  Running: 0$`, `(?m)^ Storage Driver: overlay2$`,
		`(?m)^ Cgroup Version: [12]$`, `(?m)^ Cgroup Driver: (cgroupfs|systemd)$`, `(?m)^ Kernel Version: \S+`,
		`(?m)^ Operating System: .+`, `(?m)^ CPUs: \d+$`, `(?m)^ Total Memory: [0-9.]+[KMG]iB$`,
		`(?m)^ Docker Root Dir: ` + regexp.QuoteMeta(env.Root) + `$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("info lacks %s:\n%s", re, out)
		}
	}
	if got := env.MustRun("info", "-f", "{{.Images}} {{.Driver}} {{.DockerRootDir}}"); got != "1 overlay2 "+env.Root+"\n" {
		t.Errorf("info -f: %q", got)
	}
	if got := env.MustRun("system", "info", "-f", "{{.Images}}"); got != "1\n" {
		t.Errorf("system info -f: %q", got)
	}
}
