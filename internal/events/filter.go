package events

import (
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// filterKeys are the filters `docker events` knows.
var filterKeys = map[string]bool{
	"config": true, "container": true, "daemon": true, "event": true, "image": true, "label": true,
	"network": true, "node": true, "plugin": true, "scope": true, "secret": true, "service": true,
	"type": true, "volume": true,
}

// Filter selects events as Docker's daemon does for `docker events --filter`.
type Filter struct {
	args filters.Args
}

// ParseFilter turns --filter values ("key=value", the key trimmed and lowercased as docker/cli
// does) into a Filter. A value without "=" or an unknown key is refused in Docker's words.
func ParseFilter(vals []string) (Filter, error) {
	args := filters.NewArgs()
	for _, v := range vals {
		if v == "" {
			continue
		}
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return Filter{}, fmt.Errorf("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if !filterKeys[k] {
			return Filter{}, fmt.Errorf("invalid filter '%s'", k)
		}
		args.Add(k, strings.TrimSpace(val))
	}
	return Filter{args: args}, nil
}

// Include reports whether m passes the filter: every key given must match (values of one key
// are alternatives), with Docker's rules: container, network, volume (and the other object
// types) match the actor's ID or its name attribute, exactly or by prefix; image matches the ID,
// the image (or, for image events, name) attribute, with or without tag; event matches the
// action (exec_create and exec_start by prefix, as their actions carry the command); label
// matches the attributes ("key" or "key=value").
func (f Filter) Include(m *Message) bool {
	a := f.args
	if a.Len() == 0 {
		return true
	}
	return f.matchEvent(m) &&
		a.ExactMatch("type", string(m.Type)) &&
		(!a.Contains("scope") || a.ExactMatch("scope", m.Scope)) &&
		f.matchName(m, events.DaemonEventType) &&
		f.matchName(m, events.ContainerEventType) &&
		f.matchName(m, events.PluginEventType) &&
		f.matchName(m, events.VolumeEventType) &&
		f.matchName(m, events.NetworkEventType) &&
		f.matchImage(m) &&
		f.matchName(m, events.NodeEventType) &&
		f.matchName(m, events.ServiceEventType) &&
		f.matchName(m, events.SecretEventType) &&
		f.matchName(m, events.ConfigEventType) &&
		(!a.Contains("label") || a.MatchKVList("label", m.Actor.Attributes))
}

func (f Filter) matchEvent(m *Message) bool {
	for _, v := range f.args.Get("event") {
		switch v {
		case "health_status", "exec_create", "exec_start":
			return f.args.FuzzyMatch("event", string(m.Action))
		}
	}
	return f.args.ExactMatch("event", string(m.Action))
}

// matchName applies the filter named after an object type: the actor's ID or name, exactly or
// by prefix. It applies to events of every type, as Docker's does: `--filter container=x`
// shows only x's events.
func (f Filter) matchName(m *Message, t events.Type) bool {
	return f.args.FuzzyMatch(string(t), m.Actor.ID) || f.args.FuzzyMatch(string(t), m.Actor.Attributes["name"])
}

func (f Filter) matchImage(m *Message) bool {
	attr := "image"
	if m.Type == events.ImageEventType {
		attr = "name"
	}
	name := m.Actor.Attributes[attr]
	a := f.args
	return a.ExactMatch("image", m.Actor.ID) || a.ExactMatch("image", name) ||
		a.ExactMatch("image", stripTag(m.Actor.ID)) || a.ExactMatch("image", stripTag(name))
}

// stripTag drops the tag or digest of an image reference ("busybox:latest" -> "busybox",
// "127.0.0.1:5000/app:v1" -> "127.0.0.1:5000/app"); anything else is returned as it is.
func stripTag(ref string) string {
	if strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}
