package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
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

// Every top-level command of the full tree is built alone or with its group, and the command
// that runs (with all its subcommands) is the same as in the full tree.
func TestCommandGroupsMatchFullTree(t *testing.T) {
	full := newRootCommand(&CLI{})
	for _, want := range full.Commands() {
		name := want.Name()
		if hotCommands[name] == nil && commandGroup(name) == nil {
			t.Errorf("%s: neither a hot command nor in commandGroup", name)
			continue
		}
		part := commandFor(&CLI{}, []string{name})
		if len(part.Commands()) >= len(full.Commands()) {
			t.Errorf("%s: built the whole tree", name)
		}
		got, _, err := part.Find([]string{name})
		if err != nil || got.Name() != name {
			t.Errorf("%s: not in its partial tree: %v", name, err)
			continue
		}
		sameSubtree(t, want, got)
	}
	if commandGroup("nosuchcommand") != nil || commandGroup("help") != nil {
		t.Error("commandGroup names a command that is not one")
	}
}

// sameSubtree compares usage, aliases, visibility and completion of want and got and of all
// their subcommands.
func sameSubtree(t *testing.T, want, got *cobra.Command) {
	t.Helper()
	var a, b bytes.Buffer
	want.SetOut(&a)
	got.SetOut(&b)
	want.Usage()
	got.Usage()
	path := want.CommandPath()
	if a.String() != b.String() {
		t.Errorf("%s: usage differs:\n%s\n---\n%s", path, a.String(), b.String())
	}
	if strings.Join(want.Aliases, ",") != strings.Join(got.Aliases, ",") || want.Hidden != got.Hidden ||
		(want.ValidArgsFunction == nil) != (got.ValidArgsFunction == nil) || (want.RunE == nil) != (got.RunE == nil) {
		t.Errorf("%s: aliases, visibility, completion or run function differ", path)
	}
	wc, gc := want.Commands(), got.Commands()
	if len(wc) != len(gc) {
		t.Errorf("%s: %d subcommands, want %d", path, len(gc), len(wc))
		return
	}
	for i := range wc {
		sameSubtree(t, wc[i], gc[i])
	}
}
