package runtime

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"

	"github.com/berth-project/berth/internal/ids"
)

// This file computes what `ps` shows of a container: its command line, status text, ports and
// image, as Docker's daemon and docker/cli compute them.

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
	if len(c.State.Ports) == 0 && (c.Config == nil || len(c.Config.ExposedPorts) == 0) &&
		(c.HostConfig == nil || len(c.HostConfig.PortBindings) == 0) {
		return nil
	}
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
	if len(ports) == 0 {
		return ""
	}
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
