package main

import (
	"errors"
	"testing"

	"github.com/spf13/cobra"
)

func TestArgValidators(t *testing.T) {
	root := &cobra.Command{Use: "berth"}
	rm := &cobra.Command{Use: "rm [OPTIONS] CONTAINER [CONTAINER...]", Short: "Remove one or more containers"}
	root.AddCommand(rm)
	usage := "\nSee 'berth rm --help'.\n\nUsage:  berth rm [OPTIONS] CONTAINER [CONTAINER...]\n\nRemove one or more containers"
	tests := []struct {
		name  string
		check cobra.PositionalArgs
		args  []string
		want  string // "" when the arguments are accepted
	}{
		{"min ok", requiresMinArgs(1), []string{"a"}, ""},
		{"min short", requiresMinArgs(1), nil, `"berth rm" requires at least 1 argument.` + usage},
		{"min plural", requiresMinArgs(2), []string{"a"}, `"berth rm" requires at least 2 arguments.` + usage},
		{"max ok", requiresMaxArgs(1), nil, ""},
		{"max over", requiresMaxArgs(1), []string{"a", "b"}, `"berth rm" requires at most 1 argument.` + usage},
		{"exact ok", exactArgs(2), []string{"a", "b"}, ""},
		{"exact off", exactArgs(2), []string{"a"}, `"berth rm" requires exactly 2 arguments.` + usage},
		{"range ok", requiresRangeArgs(1, 2), []string{"a", "b"}, ""},
		{"range over", requiresRangeArgs(1, 2), []string{"a", "b", "c"}, `"berth rm" requires at least 1 and at most 2 arguments.` + usage},
		{"none ok", noArgs, nil, ""},
		{"none given one", noArgs, []string{"a"}, `"berth rm" accepts no arguments.` + usage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check(rm, tc.args)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error", err)
			}
			if ue.msg != tc.want {
				t.Errorf("message:\n%s\nwant:\n%s", ue.msg, tc.want)
			}
		})
	}
}
