package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/storage"
)

// CommitOptions tune Commit, as `docker commit`'s flags.
type CommitOptions struct {
	Ref     string   // repository[:tag] for the new image; "" for none
	Author  string   // -a
	Message string   // -m
	Changes []string // -c: Dockerfile instructions applied to the config
	Pause   bool     // -p: freeze a running container while its changes are read
}

// Commit makes a new image from the container nameOrID's changes, on top of its image: one
// layer (the writable layer, without the runtime's own mount targets) and the container's
// config with opts.Changes applied. A running container is paused meanwhile when opts.Pause
// (and thawed again, also on failure), as Docker does.
func (r *Runtime) Commit(ctx context.Context, images *image.Store, nameOrID string, opts CommitOptions) (img *image.Image, err error) {
	c, err := r.Get(nameOrID)
	if err != nil {
		return nil, err
	}
	if opts.Ref != "" {
		if _, err := image.TagReference(opts.Ref); err != nil {
			return nil, err
		}
	}
	switch c.State.Status {
	case StatusDead, StatusRemoving:
		return nil, errdefs.Conflict(fmt.Sprintf("You cannot commit container %s which is dead or marked for removal", c.ID))
	}
	cfg, err := commitConfig(c)
	if err != nil {
		return nil, err
	}
	if err := image.ApplyChanges(&cfg, opts.Changes); err != nil {
		return nil, err
	}
	if opts.Pause && c.State.Status == StatusRunning {
		// As Docker: a container that cannot be paused (it just stopped) is committed as is.
		if r.Pause(c.ID) == nil {
			defer func() {
				if uerr := r.Unpause(c.ID); uerr != nil && err == nil {
					err = fmt.Errorf("commit %s: %w", c.Name, uerr)
				}
			}()
		}
	}
	upper := containerUpperDir(r.Layout, c.ID)
	skip := writableLayerSkip(upper, c.LowerDirs)
	var createdBy string
	if c.Config != nil {
		createdBy = strings.Join(c.Config.Cmd, " ")
	}
	img, err = images.Commit(ctx, c.ImageID, func(w io.Writer) error {
		return storage.DiffWith(upper, ctxWriter{ctx, w}, storage.DiffOptions{Skip: skip})
	}, image.CommitOptions{
		Ref: opts.Ref, Config: cfg, Author: opts.Author, Message: opts.Message,
		CreatedBy: createdBy, Container: c.ID,
	})
	if err != nil {
		return nil, err
	}
	// Docker's "commit" event: the comment, the new image and the tag it got ("" for none).
	ref := ""
	if opts.Ref != "" {
		ref, _ = image.TagReference(opts.Ref)
	}
	r.event(&c.Record, "commit", map[string]string{"comment": opts.Message, "imageID": img.ID, "imageRef": ref})
	return img, nil
}

// ctxWriter fails its writes once ctx is done: an interrupted commit stops reading the layer.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// commitConfig is the image config of a commit of c: the container's config as it ran (the
// image's merged with the run options).
func commitConfig(c *Container) (v1.Config, error) {
	var cfg v1.Config
	if c.Config == nil {
		return cfg, nil
	}
	cc := *c.Config
	// Only what describes an image: not the container's hostname, stdio or network settings.
	img := struct {
		User         string              `json:"User,omitempty"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
		Env          []string            `json:"Env,omitempty"`
		Cmd          []string            `json:"Cmd,omitempty"`
		Healthcheck  any                 `json:"Healthcheck,omitempty"`
		ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
		Volumes      map[string]struct{} `json:"Volumes,omitempty"`
		WorkingDir   string              `json:"WorkingDir,omitempty"`
		Entrypoint   []string            `json:"Entrypoint,omitempty"`
		OnBuild      []string            `json:"OnBuild,omitempty"`
		Labels       map[string]string   `json:"Labels,omitempty"`
		StopSignal   string              `json:"StopSignal,omitempty"`
		Shell        []string            `json:"Shell,omitempty"`
	}{
		User: cc.User, Env: cc.Env, Cmd: cc.Cmd, ArgsEscaped: cc.ArgsEscaped, Volumes: cc.Volumes,
		WorkingDir: cc.WorkingDir, Entrypoint: cc.Entrypoint, OnBuild: cc.OnBuild, Labels: cc.Labels,
		StopSignal: cc.StopSignal, Shell: cc.Shell,
	}
	if cc.Healthcheck != nil {
		img.Healthcheck = cc.Healthcheck
	}
	if len(cc.ExposedPorts) > 0 {
		img.ExposedPorts = map[string]struct{}{}
		for p := range cc.ExposedPorts {
			img.ExposedPorts[string(p)] = struct{}{}
		}
	}
	raw, err := json.Marshal(img)
	if err != nil {
		return cfg, fmt.Errorf("commit %s: config: %w", c.Name, err)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("commit %s: config: %w", c.Name, err)
	}
	return cfg, nil
}

// Changes lists the changes of the container's filesystem against its image, as `docker diff`
// shows them: the writable layer without the runtime's own mount targets.
func (r *Runtime) Changes(c *Container) ([]storage.Change, error) {
	upper := containerUpperDir(r.Layout, c.ID)
	changes, err := storage.Changes(c.LowerDirs, upper, writableLayerSkip(upper, c.LowerDirs))
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", c.Name, err)
	}
	return changes, nil
}

// mountTargets are the paths (relative to the rootfs) that the runtime mounts over in every
// container: when the image lacks them, the empty files and folders made for the mounts land
// in the writable layer. Docker keeps them in a layer of their own (the "-init" layer), so
// commit and diff never see them; nothing the container writes can reach them in the writable
// layer (a mount covers each).
var mountTargets = map[string]bool{
	"etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true,
	"proc": true, "sys": true, "dev": true,
	strings.TrimPrefix(initPath, "/"): true,
}

// writableLayerSkip returns what commit and diff leave out of the writable layer upper: the
// mount targets, and the folders that hold nothing else and were made or copied up only to
// hold them (a folder of the image with the same mode and owner, or a new one).
func writableLayerSkip(upper string, lowers []string) func(rel string) bool {
	// The folders above the targets, deepest first.
	var cands []string
	seen := map[string]bool{}
	for t := range mountTargets {
		for d := path.Dir(t); d != "."; d = path.Dir(d) {
			if !seen[d] {
				seen[d] = true
				cands = append(cands, d)
			}
		}
	}
	sort.Slice(cands, func(i, j int) bool { return strings.Count(cands[i], "/") > strings.Count(cands[j], "/") })
	only := map[string]bool{}
	skip := func(rel string) bool { return mountTargets[rel] || only[rel] }
	for _, d := range cands {
		p := filepath.Join(upper, d)
		ents, err := os.ReadDir(p)
		if err != nil || len(ents) == 0 {
			continue
		}
		all := true
		for _, e := range ents {
			if !skip(d + "/" + e.Name()) {
				all = false
				break
			}
		}
		if all && plainFolder(p, lowers, d) {
			only[d] = true
		}
	}
	return skip
}

// plainFolder tells whether the upper folder p (at rel) is new or the image's folder copied up
// unchanged in mode and owner, and is not opaque.
func plainFolder(p string, lowers []string, rel string) bool {
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false
	}
	if sz, err := unix.Lgetxattr(p, "trusted.overlay.opaque", make([]byte, 8)); err == nil && sz > 0 {
		return false
	}
	lower, err := storage.LowerStat(lowers, rel)
	if err != nil {
		return false
	}
	return lower == nil || (lower.Mode == st.Mode && lower.Uid == st.Uid && lower.Gid == st.Gid)
}

// Export writes the container's whole filesystem (its image with the writable layer on top,
// without volumes and the runtime's mounts) to w as a tar, as `docker export` does. The
// filesystem is mounted read-only in a mount namespace of one thread of this process, which
// ends with the export: no mount is ever visible on the host, nor left behind.
func (r *Runtime) Export(c *Container, w io.Writer) error {
	lowers := append([]string{containerUpperDir(r.Layout, c.ID)}, c.LowerDirs...)
	target := filepath.Join(r.Layout.ContainerDir(c.ID), "merged")
	done := make(chan error, 1)
	go func() {
		// The thread is never unlocked: Go ends it with this goroutine, and its mount
		// namespace with it.
		goruntime.LockOSThread()
		done <- exportInPrivateNamespace(lowers, target, w)
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("export %s: %w", c.Name, err)
	}
	return nil
}

func exportInPrivateNamespace(lowers []string, target string, w io.Writer) error {
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	// Nothing propagates either way: mounts made here stay here, and the host's unmounts
	// (a container stopping meanwhile) never find copies of theirs busy here.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
		return errdefs.NotFound("the container's folder is gone")
	}
	if err := storage.MountOverlay(lowers, "", "", target); err != nil {
		return err
	}
	defer storage.Unmount(target)
	return storage.Diff(target, w)
}
