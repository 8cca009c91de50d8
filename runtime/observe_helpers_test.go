package runtime

import (
	"os"
	"path/filepath"
)

// writeFileSize creates name (and its folder) holding size bytes.
func writeFileSize(name string, size int) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, make([]byte, size), 0o644)
}

// linkFile hard-links oldname as newname.
func linkFile(oldname, newname string) error { return os.Link(oldname, newname) }

// newObserveRuntime opens a runtime on fresh temporary roots.
func newObserveRuntime(t interface {
	TempDir() string
	Fatal(...any)
}) *Runtime {
	root := t.TempDir()
	rt, err := Open(Layout{Root: filepath.Join(root, "root"), RunRoot: filepath.Join(root, "run")})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// addFakeContainer writes a container's folder (config.json, state.json, an upper dir) without
// running anything, as a store holding c would look on disk.
func addFakeContainer(t interface{ Fatal(...any) }, rt *Runtime, c *Container) {
	dir := rt.Layout.ContainerDir(c.ID)
	if err := os.MkdirAll(filepath.Join(dir, "upper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rt.SaveRecord(&c.Record); err != nil {
		t.Fatal(err)
	}
	if err := rt.SaveState(c.ID, &c.State); err != nil {
		t.Fatal(err)
	}
}
