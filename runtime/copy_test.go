package runtime

import (
	"testing"

	"github.com/docker/docker/api/types/container"
)

func TestCopyInRoot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/etc/passwd", "/etc/passwd"},
		{"etc/passwd", "/etc/passwd"},
		{"etc/", "/etc/"},
		{"/etc/.", "/etc/."},
		{"../../etc", "/etc"},
		{"", "/."}, // as Docker: an empty path is the root's contents
		{".", "/."},
	} {
		if got := inRoot(tc.in); got != tc.want {
			t.Errorf("inRoot(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCopyCheckWritable(t *testing.T) {
	t.Parallel()
	rec := &Record{
		Mounts: []container.MountPoint{
			{Destination: "/data", RW: true},
			{Destination: "/data/ro", RW: false},
			{Destination: "/etc/conf", RW: false},
		},
		HostConfig: &container.HostConfig{},
	}
	roRoot := &Record{Mounts: rec.Mounts, HostConfig: &container.HostConfig{ReadonlyRootfs: true}}
	for _, tc := range []struct {
		rec  *Record
		path string
		want string
	}{
		{rec, "/tmp", ""},
		{rec, "/data", ""},
		{rec, "/data/x", ""},
		{rec, "/data/ro", "mounted volume is marked read-only"},
		{rec, "/data/ro/deep", "mounted volume is marked read-only"},
		{rec, "/data/rox", ""},
		{rec, "/etc/conf", "mounted volume is marked read-only"},
		{roRoot, "/tmp", "container rootfs is marked read-only"},
		{roRoot, "/data/x", ""},
		{roRoot, "/data/ro", "mounted volume is marked read-only"},
	} {
		v := &ContainerFS{rec: tc.rec}
		err := v.checkWritable(tc.path)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("checkWritable(%q, read-only root %v) = %q, want %q", tc.path, tc.rec.HostConfig.ReadonlyRootfs, got, tc.want)
		}
	}
}
