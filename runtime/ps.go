package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/berth-project/berth/internal/ids"
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
// records carry only what ps shows and filters on (see psRecord).
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

// CommandLine is Docker's COMMAND for ps: the path followed by the arguments, arguments holding
// a space wrapped in single quotes.
func CommandLine(rec *Record) string {
	if len(rec.Args) == 0 {
		return rec.Path
	}
	var b strings.Builder
	b.WriteString(rec.Path)
	for _, a := range rec.Args {
		b.WriteByte(' ')
		if strings.Contains(a, " ") {
			b.WriteString("'" + a + "'")
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// StatusText is Docker's STATUS column for st at time now: "Up 3 minutes",
// "Up 2 minutes (Paused)", "Restarting (1) 2 seconds ago", "Exited (0) 4 minutes ago", "Created",
// "Removal In Progress" or "Dead".
func StatusText(st *State, now time.Time) string {
	switch st.Status {
	case StatusPaused:
		return fmt.Sprintf("Up %s (Paused)", units.HumanDuration(now.Sub(st.StartedAt)))
	case StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
	case StatusRunning:
		return fmt.Sprintf("Up %s", units.HumanDuration(now.Sub(st.StartedAt)))
	case StatusRemoving:
		return "Removal In Progress"
	case StatusDead:
		return "Dead"
	}
	if st.StartedAt.IsZero() {
		return "Created"
	}
	if st.FinishedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
}

// PortSummary is one line of a container's port list as `docker ps` collects them: a published
// binding (HostIP set) or an exposed, unpublished port.
type PortSummary struct {
	HostIP      string
	HostPort    uint16
	PrivatePort uint16
	Type        string
}

// Ports lists the container's published bindings (from the live state) and its exposed but
// unpublished ports, as Docker's container list does.
func Ports(c *Container) []PortSummary {
	var out []PortSummary
	seen := map[string]bool{}
	for k, bindings := range c.State.Ports {
		p := nat.Port(k)
		priv := uint16(p.Int())
		if len(bindings) == 0 {
			continue
		}
		seen[k] = true
		for _, b := range bindings {
			hp, _ := strconv.ParseUint(b.HostPort, 10, 16)
			ip := b.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			out = append(out, PortSummary{HostIP: ip, HostPort: uint16(hp), PrivatePort: priv, Type: p.Proto()})
		}
	}
	var exposed []string
	if c.Config != nil {
		for p := range c.Config.ExposedPorts {
			exposed = append(exposed, string(p))
		}
	}
	if c.HostConfig != nil && !c.IsRunning() {
		// A stopped container publishes nothing, but its asked-for bindings are still exposed.
		for p := range c.HostConfig.PortBindings {
			exposed = append(exposed, string(p))
		}
	}
	for _, k := range exposed {
		if seen[k] {
			continue
		}
		seen[k] = true
		p := nat.Port(k)
		start, end, err := p.Range()
		if err != nil {
			continue
		}
		for i := start; i <= end; i++ {
			out = append(out, PortSummary{PrivatePort: uint16(i), Type: p.Proto()})
		}
	}
	return out
}

// DisplayPorts renders ports as Docker's PORTS column: consecutive ports grouped into ranges,
// "0.0.0.0:3344->80/tcp" for published ones and "80/tcp" for exposed ones.
func DisplayPorts(ports []PortSummary) string {
	type group struct{ first, last uint16 }
	ports = append([]PortSummary(nil), ports...)
	sort.Slice(ports, func(i, j int) bool {
		a, b := ports[i], ports[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.HostIP != b.HostIP {
			return a.HostIP < b.HostIP
		}
		if a.HostPort != b.HostPort {
			return a.HostPort < b.HostPort
		}
		return a.Type < b.Type
	})
	groups := map[string]*group{}
	var keys, result, mappings []string
	for _, p := range ports {
		cur := p.PrivatePort
		key := p.Type
		if p.HostIP != "" {
			if p.HostPort != cur {
				mappings = append(mappings, fmt.Sprintf("%s->%d/%s", joinHostPort(p.HostIP, strconv.Itoa(int(p.HostPort))), p.PrivatePort, p.Type))
				continue
			}
			key = p.HostIP + "/" + p.Type
		}
		g := groups[key]
		if g == nil {
			groups[key] = &group{cur, cur}
			keys = append(keys, key)
			continue
		}
		if cur == g.last+1 {
			g.last = cur
			continue
		}
		result = append(result, formPortGroup(key, g.first, g.last))
		groups[key] = &group{cur, cur}
	}
	for _, k := range keys {
		g := groups[k]
		result = append(result, formPortGroup(k, g.first, g.last))
	}
	result = append(result, mappings...)
	return strings.Join(result, ", ")
}

func joinHostPort(ip, port string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + port
	}
	return ip + ":" + port
}

func formPortGroup(key string, first, last uint16) string {
	ip, typ := "", key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		ip, typ = key[:i], key[i+1:]
	}
	g := strconv.Itoa(int(first))
	if first != last {
		g += "-" + strconv.Itoa(int(last))
	}
	if ip != "" {
		g = joinHostPort(ip, g) + "->" + g
	}
	return g + "/" + typ
}

// familiarImage shortens a normalised reference for display: "docker.io/library/busybox:latest"
// becomes "busybox:latest", "docker.io/user/app:1" becomes "user/app:1".
func familiarImage(ref string) string {
	ref = strings.TrimPrefix(ref, "docker.io/")
	ref = strings.TrimPrefix(ref, "index.docker.io/")
	return strings.TrimPrefix(ref, "library/")
}

// DisplayImage is Docker's IMAGE column: the reference as the user gave it (familiar form, a
// digest dropped when a tag is present), or the short image ID when the container was created
// from an ID. With trunc false the reference is printed unchanged.
func DisplayImage(c *Container, trunc bool) string {
	ref := c.Image
	if c.Config != nil && c.Config.Image != "" {
		ref = c.Config.Image
	}
	if ref == "" {
		ref = c.ImageID
	}
	if ref == "" {
		return "<no image>"
	}
	if !trunc {
		return ref
	}
	id := strings.TrimPrefix(c.ImageID, "sha256:")
	short := strings.TrimPrefix(ref, "sha256:")
	if id != "" && strings.HasPrefix(id, short) && ids.IsHexPrefix(short) {
		return ids.Truncate(id)
	}
	ref = familiarImage(ref)
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		name := ref[:at]
		if strings.Contains(name[strings.LastIndexByte(name, '/')+1:], ":") {
			return name
		}
	}
	return ref
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
