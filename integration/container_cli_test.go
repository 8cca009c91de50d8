package integration

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/integration/harness"
)

// A wrong number of arguments is worded as docker/cli words it, with the usage, exit 1.
func TestContainerArgumentCountErrors(t *testing.T) {
	env := harness.New(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"rm"}, "\"berth rm\" requires at least 1 argument.\nSee 'berth rm --help'.\n\nUsage:  berth rm [OPTIONS] CONTAINER [CONTAINER...]\n\nRemove one or more containers\n"},
		{[]string{"container", "rm"}, "\"berth container rm\" requires at least 1 argument.\nSee 'berth container rm --help'.\n\nUsage:  berth container rm [OPTIONS] CONTAINER [CONTAINER...]\n"},
		{[]string{"run"}, "\"berth run\" requires at least 1 argument.\nSee 'berth run --help'.\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"},
		{[]string{"exec", "x"}, "\"berth exec\" requires at least 2 arguments.\n"},
		{[]string{"rename", "x"}, "\"berth rename\" requires exactly 2 arguments.\n"},
		{[]string{"logs"}, "\"berth logs\" requires exactly 1 argument.\n"},
		{[]string{"ps", "extra"}, "\"berth ps\" accepts no arguments.\nSee 'berth ps --help'.\n\nUsage:  berth ps [OPTIONS]\n\nList containers\n"},
	}
	for _, c := range cases {
		res := env.Run(c.args...)
		if res.Code != 1 || !strings.HasPrefix(res.Stderr, c.want) || res.Stdout != "" {
			t.Errorf("berth %s: %s\nwant stderr starting with:\n%s", strings.Join(c.args, " "), res, c.want)
		}
	}
}
