package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berth-project/berth/internal/errdefs"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// CLI carries what every command needs: the global flags and the streams. Commands get it at
// construction and read the flag values only when they run.
type CLI struct {
	Root     string // --root, BERTH_ROOT: persistent state
	RunRoot  string // --runroot, BERTH_RUNROOT: state that dies with a reboot
	LogLevel string // --log-level

	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StatusError makes the process exit with Code. An empty Msg prints nothing.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return e.Msg }

// withCode wraps err so that berth exits with code (e.g. 125 for run/create failures), keeping
// codes that are already set.
func withCode(err error, code int) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	return &StatusError{Code: code, Msg: err.Error()}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// newRootCommand builds the whole command tree.
func newRootCommand(cli *CLI) *cobra.Command {
	root := newBareRoot(cli)
	addSystemCommands(root, cli)
	addImageCommands(root, cli)
	addContainerCommands(root, cli)
	addNetworkCommands(root, cli)
	addVolumeCommands(root, cli)
	addRegistryCommands(root, cli)
	addBuildCommands(root, cli)
	return root
}

// newBareRoot builds the root command with the global flags and no subcommands.
func newBareRoot(cli *CLI) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth [OPTIONS] COMMAND [ARG...]",
		Short:         "A daemonless, Docker-compatible container runtime",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		CompletionOptions: cobra.CompletionOptions{
			HiddenDefaultCmd: false,
		},
	}
	root.SetVersionTemplate("berth version {{.Version}}\n")
	root.PersistentFlags().StringVar(&cli.Root, "root", envOr("BERTH_ROOT", "/var/lib/berth"), "Root directory of persistent berth state (env BERTH_ROOT)")
	root.PersistentFlags().StringVar(&cli.RunRoot, "runroot", envOr("BERTH_RUNROOT", "/run/berth"), "Root directory of runtime state (env BERTH_RUNROOT)")
	root.PersistentFlags().StringVar(&cli.LogLevel, "log-level", "info", `Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")`)
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		return applyLogLevel(cli.LogLevel)
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &StatusError{Code: 125, Msg: fmt.Sprintf("%s\nSee '%s --help'.", err, c.CommandPath())}
	})
	root.SetIn(cli.In)
	root.SetOut(cli.Out)
	root.SetErr(cli.Err)
	return root
}

// hotCommands are the top-level commands that scripts run most often. Building the whole tree
// (every command's flags) costs a few milliseconds on each invocation, so for these berth builds
// the root with only the command that runs; help, completion and anything else get the full tree.
var hotCommands = map[string]func(*CLI) *cobra.Command{
	"run":     newRunCommand,
	"create":  newCreateCommand,
	"start":   newStartCommand,
	"stop":    newStopCommand,
	"kill":    newKillCommand,
	"wait":    newWaitCommand,
	"exec":    newExecCommand,
	"logs":    newLogsCommand,
	"inspect": newInspectCommand,
	"version": newVersionCommand,
	"rm":      func(cli *CLI) *cobra.Command { return newRmCommand(cli, "rm") },
	"ps":      func(cli *CLI) *cobra.Command { return newPsCommand(cli, "ps") },
}

// commandGroup returns the function that registers the top-level command name on a root, with
// the rest of its group (e.g. "images" with the image commands): nil for the hot commands and
// for anything that is not a command. Building one group instead of the whole tree saves about
// 200 page faults (3 ms) on each start; TestCommandGroupsMatchFullTree keeps the list complete.
func commandGroup(name string) func(*cobra.Command, *CLI) {
	switch name {
	case "system", "info", "events":
		return addSystemCommands
	case "image", "images", "pull", "push", "rmi", "tag", "history", "save", "load", "import":
		return addImageCommands
	case "container", "restart", "attach", "top", "stats", "pause", "unpause", "rename", "update",
		"commit", "diff", "export", "cp":
		return addContainerCommands
	case "login", "logout", "search":
		return addRegistryCommands
	case "build":
		return addBuildCommands
	case "network", "port":
		return addNetworkCommands
	case "volume":
		return addVolumeCommands
	}
	return nil
}

// commandFor builds the command tree for args: the root with just the named hot command, or
// with just the named command's group, when args name one; else (help, completion, no or an
// unknown command) the whole tree.
func commandFor(cli *CLI, args []string) *cobra.Command {
	name := commandName(args)
	mk, add := hotCommands[name], commandGroup(name)
	if mk == nil && add == nil {
		return newRootCommand(cli)
	}
	root := newBareRoot(cli)
	if mk != nil {
		root.AddCommand(mk(cli))
	} else {
		add(root, cli)
	}
	// cobra would add its "completion" command (five commands with flags) on every run: only
	// "berth completion" uses it, and that one gets the whole tree.
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// commandName is the first argument that names a command, skipping the global flags and their
// values; "" when a flag other than the global ones comes first (--help, --version).
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--root" || a == "--runroot" || a == "--log-level":
			i++
		case strings.HasPrefix(a, "--root=") || strings.HasPrefix(a, "--runroot=") || strings.HasPrefix(a, "--log-level="):
		case strings.HasPrefix(a, "-"):
			return ""
		default:
			return a
		}
	}
	return ""
}

// run executes the CLI with args and returns the process exit code.
func run(args []string) int {
	cli := &CLI{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	root := commandFor(cli, args)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(cli.Err, ue.msg)
		return 1
	}
	code := 1
	var se *StatusError
	switch {
	case errors.As(err, &se):
		code = se.Code
	case errors.Is(err, errdefs.ErrCommandNotFound):
		code = 127
	case errors.Is(err, errdefs.ErrCannotInvoke):
		code = 126
	}
	if msg := err.Error(); msg != "" {
		if se != nil || code != 1 {
			fmt.Fprintln(cli.Err, "berth: "+msg)
		} else {
			fmt.Fprintln(cli.Err, "Error: "+msg)
		}
	}
	return code
}

// applyLogLevel checks --log-level as Docker does and applies it to the logger that libcontainer
// reports its warnings through.
func applyLogLevel(level string) error {
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return &StatusError{Code: 125, Msg: fmt.Sprintf("Unable to parse logging level: %s", level)}
	}
	logrus.SetLevel(lvl)
	return nil
}
