package events

import (
	"testing"

	"github.com/docker/docker/api/types/events"
)

func TestFilter(t *testing.T) {
	ctr := &Message{Type: Container, Action: "start", Scope: "local", Actor: events.Actor{ID: "3f4e5d6c7b8a",
		Attributes: map[string]string{"name": "web", "image": "127.0.0.1:5000/busybox:latest", "app": "shop"}}}
	exec := &Message{Type: Container, Action: "exec_create: sh -c true", Actor: events.Actor{ID: "3f4e5d6c7b8a",
		Attributes: map[string]string{"name": "web", "image": "busybox"}}}
	img := &Message{Type: Image, Action: "tag", Actor: events.Actor{ID: "sha256:abcd",
		Attributes: map[string]string{"name": "busybox:v1"}}}
	pull := &Message{Type: Image, Action: "pull", Actor: events.Actor{ID: "busybox:latest",
		Attributes: map[string]string{"name": "busybox"}}}
	net := &Message{Type: Network, Action: "connect", Actor: events.Actor{ID: "9a8b7c",
		Attributes: map[string]string{"name": "backend", "type": "bridge", "container": "3f4e5d6c7b8a"}}}
	vol := &Message{Type: Volume, Action: "create", Actor: events.Actor{ID: "data", Attributes: map[string]string{"driver": "local"}}}
	all := []*Message{ctr, exec, img, pull, net, vol}

	for _, c := range []struct {
		filters []string
		want    []*Message
	}{
		{nil, all},
		{[]string{"type=container"}, []*Message{ctr, exec}},
		{[]string{"type=image", "type=volume"}, []*Message{img, pull, vol}},
		{[]string{"TYPE = network"}, []*Message{net}},
		{[]string{"event=start"}, []*Message{ctr}},
		{[]string{"event=exec_create"}, []*Message{exec}},
		{[]string{"event=tag", "event=pull"}, []*Message{img, pull}},
		{[]string{"container=web"}, []*Message{ctr, exec}},
		{[]string{"container=3f4e"}, []*Message{ctr, exec}},
		{[]string{"container=we"}, []*Message{ctr, exec}}, // a prefix of the name, as Docker
		{[]string{"container=nope"}, nil},
		{[]string{"image=busybox"}, []*Message{exec, img, pull}},
		{[]string{"image=127.0.0.1:5000/busybox"}, []*Message{ctr}},
		{[]string{"image=sha256:abcd"}, []*Message{img}},
		{[]string{"image=busybox:v1"}, []*Message{img}},
		{[]string{"network=backend"}, []*Message{net}},
		{[]string{"network=9a8b"}, []*Message{net}},
		{[]string{"volume=data"}, []*Message{vol}},
		{[]string{"label=app"}, []*Message{ctr}},
		{[]string{"label=app=shop"}, []*Message{ctr}},
		{[]string{"label=app=other"}, nil},
		{[]string{"type=container", "event=start", "container=web"}, []*Message{ctr}},
		{[]string{"scope=swarm"}, nil},
		{[]string{"scope=local"}, []*Message{ctr}},
		{[]string{""}, all},
	} {
		f, err := ParseFilter(c.filters)
		if err != nil {
			t.Fatalf("%v: %v", c.filters, err)
		}
		var got []*Message
		for _, m := range all {
			if f.Include(m) {
				got = append(got, m)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%v: %d events, want %d", c.filters, len(got), len(c.want))
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%v: event %d is %s %s", c.filters, i, got[i].Type, got[i].Action)
			}
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	for in, want := range map[string]string{
		"nonsense=1": "invalid filter 'nonsense'",
		"Bogus=x":    "invalid filter 'bogus'",
		"container":  "bad format of filter (expected name=value)",
	} {
		if _, err := ParseFilter([]string{in}); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestStripTag(t *testing.T) {
	for in, want := range map[string]string{
		"busybox:latest":                "busybox",
		"busybox":                       "busybox",
		"127.0.0.1:5000/app:v1":         "127.0.0.1:5000/app",
		"127.0.0.1:5000/app":            "127.0.0.1:5000/app",
		"busybox@sha256:0123":           "busybox",
		"sha256:0123":                   "sha256:0123",
		"localhost:5000/a/b:c@sha256:1": "localhost:5000/a/b",
	} {
		if got := stripTag(in); got != want {
			t.Errorf("stripTag(%q) = %q, want %q", in, got, want)
		}
	}
}
