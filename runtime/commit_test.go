package runtime

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCommitConfig(t *testing.T) {
	c := &Container{Record: Record{Name: "c", Config: &container.Config{
		Hostname: "abc", Tty: true, OpenStdin: true, // not the image's
		User: "app", Env: []string{"A=b"}, Cmd: []string{"sh"}, Entrypoint: []string{"/e"},
		WorkingDir: "/w", ExposedPorts: nat.PortSet{"80/tcp": {}}, Volumes: map[string]struct{}{"/data": {}},
		Labels: map[string]string{"k": "v"}, StopSignal: "SIGINT", OnBuild: []string{"RUN true"},
		Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}},
	}}}
	got, err := commitConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		User: "app", Env: []string{"A=b"}, Cmd: []string{"sh"}, Entrypoint: []string{"/e"}, WorkingDir: "/w",
		ExposedPorts: map[string]struct{}{"80/tcp": {}}, Volumes: map[string]struct{}{"/data": {}},
		Labels: map[string]string{"k": "v"}, StopSignal: "SIGINT", OnBuild: []string{"RUN true"},
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("commitConfig:\n%+v\nwant:\n%+v", got, want)
	}
	if got, err := commitConfig(&Container{}); err != nil || !reflect.DeepEqual(got, v1.Config{}) {
		t.Errorf("commitConfig of no config: %+v %v", got, err)
	}
}

func TestWritableLayerSkip(t *testing.T) {
	lower := t.TempDir()
	for _, d := range []string{"etc", "sbin"} {
		if err := os.Mkdir(filepath.Join(lower, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(t *testing.T, files ...string) string {
		upper := t.TempDir()
		for _, f := range files {
			p := filepath.Join(upper, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if f[len(f)-1] == '/' {
				continue
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return upper
	}
	for _, tc := range []struct {
		name    string
		files   []string
		skipped []string
		kept    []string
	}{
		{"only mount targets", []string{"etc/hosts", "etc/hostname", "etc/resolv.conf", "proc/", "sbin/docker-init"},
			[]string{"etc", "etc/hosts", "proc", "sbin", "sbin/docker-init", "dev", "sys"}, nil},
		{"a real change beside them", []string{"etc/hosts", "etc/passwd"},
			[]string{"etc/hosts"}, []string{"etc", "etc/passwd"}},
		{"a new folder holding only targets", []string{"newroot/", "etc/hosts"},
			[]string{"etc"}, []string{"newroot", "etc/motd", "hosts"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			skip := writableLayerSkip(mk(t, tc.files...), []string{lower})
			for _, p := range tc.skipped {
				if !skip(p) {
					t.Errorf("%s is not skipped", p)
				}
			}
			for _, p := range tc.kept {
				if skip(p) {
					t.Errorf("%s is skipped", p)
				}
			}
		})
	}
}
