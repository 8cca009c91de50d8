package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-connections/nat"

	"github.com/berth-project/berth/internal/errdefs"
)

// PsOptions selects containers the way `docker ps` flags do.
type PsOptions struct {
	// All shows stopped containers too (-a). A status filter implies it.
	All bool
	// Limit shows only the Limit most recently created containers, in every state (-n, -l).
	// Zero or less means no limit.
	Limit int
	// Filters are the --filter key=value pairs (see ParseFilters).
	Filters filters.Args
	// ResolveImage maps an ancestor filter value (name[:tag], digest or ID) to an image ID
	// ("sha256:..."). When nil, or when it fails, ancestor values match the container's image
	// reference and image ID textually.
	ResolveImage func(ref string) (string, error)
}

// psFilterKeys are the filters `docker ps` accepts.
var psFilterKeys = map[string]bool{
	"ancestor": true, "before": true, "exited": true, "id": true, "isolation": true, "label": true,
	"name": true, "status": true, "health": true, "since": true, "volume": true, "network": true,
	"is-task": true, "publish": true, "expose": true,
}

// ParseFilters turns --filter flag values ("key=value") into filters.Args, with docker/cli's
// rules: the key is trimmed and lowercased, the value kept as given.
func ParseFilters(vals []string) (filters.Args, error) {
	args := filters.NewArgs()
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return args, errdefs.Invalid("bad format of filter (expected name=value)")
		}
		args.Add(strings.ToLower(strings.TrimSpace(k)), val)
	}
	return args, nil
}

// Ps lists the containers selected by opts, newest first, as `docker ps` shows them. The
// records carry only what ps shows and filters on (see encodePsPayload): HostConfig is nil
// unless the container has port bindings, network endpoints hold only their NetworkID, and
// containers of one listing share equal Args, Config, Mounts, Networks and Ports values, so the
// result is read-only.
func (r *Runtime) Ps(opts PsOptions) ([]*Container, error) {
	if err := validatePsFilters(opts.Filters); err != nil {
		return nil, err
	}
	all, err := r.listForPs()
	if err != nil {
		return nil, err
	}
	return SelectContainers(all, opts)
}

func validatePsFilters(f filters.Args) error {
	for _, k := range f.Keys() {
		if !psFilterKeys[k] {
			return errdefs.Invalid(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	for _, v := range f.Get("status") {
		if err := container.ValidateContainerState(container.ContainerState(v)); err != nil {
			return errdefs.Invalid(fmt.Sprintf("invalid filter 'status=%s': %v", v, err))
		}
	}
	for _, v := range f.Get("exited") {
		if _, err := strconv.Atoi(v); err != nil {
			return errdefs.Invalid(fmt.Sprintf("invalid filter 'exited=%s': %v", v, err))
		}
	}
	for _, v := range f.Get("health") {
		if err := container.ValidateHealthStatus(container.HealthStatus(v)); err != nil {
			return errdefs.Invalid(fmt.Sprintf("invalid filter 'health=%s': %v", v, err))
		}
	}
	for _, key := range []string{"publish", "expose"} {
		for _, v := range f.Get(key) {
			if _, err := portFilterSet(key, v); err != nil {
				return err
			}
		}
	}
	if _, err := f.GetBoolOrDefault("is-task", false); err != nil {
		return errdefs.Invalid(err.Error())
	}
	return nil
}

// SelectContainers applies opts to all, which must be sorted newest first (as List returns it),
// with Docker's semantics: before/since bound the list by creation order, -n counts after the
// name/id/label filters, and stopped containers show only with -a, -n or a status filter.
func SelectContainers(all []*Container, opts PsOptions) ([]*Container, error) {
	if err := validatePsFilters(opts.Filters); err != nil {
		return nil, err
	}
	f := opts.Filters
	showAll := opts.All || f.Contains("status")

	var before, since *Container
	for _, v := range f.Get("before") {
		c, err := findInList(all, v)
		if err != nil {
			return nil, err
		}
		before = c
	}
	for _, v := range f.Get("since") {
		c, err := findInList(all, v)
		if err != nil {
			return nil, err
		}
		since = c
	}
	var exited []int
	for _, v := range f.Get("exited") {
		n, _ := strconv.Atoi(v)
		exited = append(exited, n)
	}
	var ancestors map[string]bool
	if f.Contains("ancestor") {
		ancestors = map[string]bool{}
		for _, v := range f.Get("ancestor") {
			ancestors[v] = true
			if opts.ResolveImage != nil {
				if id, err := opts.ResolveImage(v); err == nil {
					ancestors[id] = true
				}
			}
		}
	}
	publish := map[nat.Port]bool{}
	for _, v := range f.Get("publish") {
		set, _ := portFilterSet("publish", v)
		for p := range set {
			publish[p] = true
		}
	}
	expose := map[nat.Port]bool{}
	for _, v := range f.Get("expose") {
		set, _ := portFilterSet("expose", v)
		for p := range set {
			expose[p] = true
		}
	}

	var out []*Container
	for _, c := range all {
		if before != nil {
			if c.ID == before.ID {
				before = nil
			}
			continue
		}
		if since != nil && c.ID == since.ID {
			break
		}
		if !c.IsRunning() && !showAll && opts.Limit <= 0 {
			continue
		}
		if !f.Match("name", c.Name) && !f.Match("name", "/"+c.Name) {
			continue
		}
		if !f.Match("id", c.ID) {
			continue
		}
		if !f.MatchKVList("label", c.Labels()) {
			continue
		}
		if opts.Limit > 0 && len(out) == opts.Limit {
			break
		}
		if len(exited) > 0 && !exitedMatches(c, exited) {
			continue
		}
		if !f.Match("status", c.State.Status) {
			continue
		}
		if f.Contains("health") && !f.ExactMatch("health", string(container.NoHealthcheck)) {
			continue
		}
		if f.Contains("isolation") && !f.ExactMatch("isolation", "default") && !f.ExactMatch("isolation", "") {
			continue
		}
		if f.Contains("is-task") {
			if t, _ := f.GetBoolOrDefault("is-task", false); t {
				continue
			}
		}
		if f.Contains("volume") && !volumeMatches(c, f.Get("volume")) {
			continue
		}
		if ancestors != nil && !ancestorMatches(c, ancestors) {
			continue
		}
		if f.Contains("network") && !networkMatches(c, f.Get("network")) {
			continue
		}
		if len(publish) > 0 && !anyPort(publishedPorts(c), publish) {
			continue
		}
		if len(expose) > 0 && !anyPort(exposedPorts(c), expose) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func findInList(all []*Container, v string) (*Container, error) {
	name := strings.TrimPrefix(v, "/")
	for _, c := range all {
		if c.ID == v || c.Name == name {
			return c, nil
		}
	}
	var match *Container
	if len(v) > 0 {
		for _, c := range all {
			if strings.HasPrefix(c.ID, v) {
				if match != nil {
					return nil, errdefs.Invalid("multiple IDs found with provided prefix: " + v)
				}
				match = c
			}
		}
	}
	if match == nil {
		return nil, errdefs.NotFound("No such container: " + v)
	}
	return match, nil
}

func exitedMatches(c *Container, codes []int) bool {
	if c.IsRunning() || c.StartedAt.IsZero() {
		return false
	}
	for _, code := range codes {
		if code == c.ExitCode {
			return true
		}
	}
	return false
}

func volumeMatches(c *Container, vals []string) bool {
	for _, v := range vals {
		for _, m := range c.Mounts {
			if m.Destination == v || m.Name == v || (m.Name == "" && m.Source == v) {
				return true
			}
		}
	}
	return false
}

func ancestorMatches(c *Container, set map[string]bool) bool {
	if set[c.ImageID] || set[c.Image] || set[strings.TrimPrefix(c.ImageID, "sha256:")] {
		return true
	}
	familiar := familiarImage(c.Image)
	if set[familiar] || (!strings.Contains(familiar, ":") && set[familiar+":latest"]) {
		return true
	}
	if strings.HasSuffix(familiar, ":latest") && set[strings.TrimSuffix(familiar, ":latest")] {
		return true
	}
	return false
}

func networkMatches(c *Container, vals []string) bool {
	nets := c.State.Networks
	if len(nets) == 0 {
		nets = c.Record.Networks
	}
	for _, v := range vals {
		if _, ok := nets[v]; ok {
			return true
		}
		for _, ep := range nets {
			if ep != nil && ep.NetworkID != "" && strings.HasPrefix(ep.NetworkID, v) {
				return true
			}
		}
	}
	return false
}

func portFilterSet(key, value string) (map[nat.Port]bool, error) {
	if strings.Contains(value, ":") {
		return nil, errdefs.Invalid(fmt.Sprintf("filter for '%s' should not contain ':': %s", key, value))
	}
	proto, port := nat.SplitProtoPort(value)
	start, end, err := nat.ParsePortRange(port)
	if err != nil {
		return nil, errdefs.Invalid(fmt.Sprintf("error while looking up for %s %s: %s", key, value, err))
	}
	set := map[nat.Port]bool{}
	for i := start; i <= end; i++ {
		p, err := nat.NewPort(proto, strconv.FormatUint(i, 10))
		if err != nil {
			return nil, errdefs.Invalid(fmt.Sprintf("error while looking up for %s %s: %s", key, value, err))
		}
		set[p] = true
	}
	return set, nil
}

func anyPort(have []nat.Port, want map[nat.Port]bool) bool {
	for _, p := range have {
		if want[p] {
			return true
		}
	}
	return false
}

func publishedPorts(c *Container) []nat.Port {
	var out []nat.Port
	for k, b := range c.State.Ports {
		if len(b) > 0 {
			out = append(out, nat.Port(k))
		}
	}
	return out
}

func exposedPorts(c *Container) []nat.Port {
	var out []nat.Port
	if c.Config != nil {
		for p := range c.Config.ExposedPorts {
			out = append(out, p)
		}
	}
	for k := range c.State.Ports {
		out = append(out, nat.Port(k))
	}
	return out
}

// IsRunning tells whether the container's process is up: running, paused or restarting count,
// as Docker's State.Running does.
func (c *Container) IsRunning() bool {
	switch c.State.Status {
	case StatusRunning, StatusPaused, StatusRestarting:
		return true
	}
	return false
}

// Labels returns the container's labels (never nil).
func (c *Container) Labels() map[string]string {
	if c.Config == nil || c.Config.Labels == nil {
		return map[string]string{}
	}
	return c.Config.Labels
}

// containerUpperDir is the container's writable overlay layer.
func containerUpperDir(l Layout, id string) string { return filepath.Join(l.ContainerDir(id), "upper") }

// SizeRw returns the size of the container's writable layer (the files it added or changed),
// counting hard-linked files once, as Docker's SizeRw does.
func (r *Runtime) SizeRw(id string) (int64, error) {
	return dirSize(containerUpperDir(r.Layout, id))
}

// dirSize sums the sizes of everything under dir except directories, counting each inode once.
func dirSize(dir string) (int64, error) {
	var size int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		size += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return size, nil
}
