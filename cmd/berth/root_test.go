package main

import (
	"bytes"
	"testing"
)

func TestCommandName(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"run", "busybox"}, "run"},
		{[]string{"--root", "/x", "--runroot", "/y", "ps", "-a"}, "ps"},
		{[]string{"--root=/x", "--log-level=debug", "exec", "c", "true"}, "exec"},
		{[]string{"--log-level", "debug", "container", "ls"}, "container"},
		{[]string{"--help", "run"}, ""},
		{[]string{"-v"}, ""},
		{[]string{"--root"}, ""},
	} {
		if got := commandName(tc.args); got != tc.want {
			t.Errorf("commandName(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// A hot command built alone must behave as in the full tree: same help, same flag errors.
func TestHotCommandsMatchFullTree(t *testing.T) {
	full := newRootCommand(&CLI{})
	for name := range hotCommands {
		hot := commandFor(&CLI{}, []string{name})
		if len(hot.Commands()) != 1 {
			t.Fatalf("%s: hot tree has %d commands", name, len(hot.Commands()))
		}
		want, _, err := full.Find([]string{name})
		if err != nil || want.Name() != name {
			t.Fatalf("%s: not in the full tree: %v", name, err)
		}
		got := hot.Commands()[0]
		var a, b bytes.Buffer
		want.SetOut(&a)
		got.SetOut(&b)
		want.Usage()
		got.Usage()
		if a.String() != b.String() {
			t.Errorf("%s: usage differs:\n%s\n---\n%s", name, a.String(), b.String())
		}
	}
}
