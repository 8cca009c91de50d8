package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is a wrong number of arguments. run prints it as docker/cli does: the text alone,
// with no prefix, and exit status 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// argCountError words a wrong argument count as docker/cli does:
//
//	"berth rm" requires at least 1 argument.
//	See 'berth rm --help'.
//
//	Usage:  berth rm [OPTIONS] CONTAINER [CONTAINER...]
//
//	Remove one or more containers
func argCountError(cmd *cobra.Command, what string) error {
	path := cmd.CommandPath()
	return &usageError{msg: fmt.Sprintf("%q %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
		path, what, path, strings.TrimSuffix(cmd.UseLine(), " [flags]"), cmd.Short)}
}

func pluralize(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// requiresMinArgs accepts n or more arguments.
func requiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argCountError(cmd, fmt.Sprintf("requires at least %d %s", n, pluralize("argument", n)))
	}
}

// requiresMaxArgs accepts at most n arguments.
func requiresMaxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argCountError(cmd, fmt.Sprintf("requires at most %d %s", n, pluralize("argument", n)))
	}
}

// requiresRangeArgs accepts between min and max arguments.
func requiresRangeArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && len(args) <= max {
			return nil
		}
		return argCountError(cmd, fmt.Sprintf("requires at least %d and at most %d %s", min, max, pluralize("argument", max)))
	}
}

// exactArgs accepts exactly n arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argCountError(cmd, fmt.Sprintf("requires exactly %d %s", n, pluralize("argument", n)))
	}
}

// noArgs accepts no argument. A command group (`berth container bogus`) answers with its usage,
// as docker/cli does.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return &usageError{msg: "\n" + strings.TrimRight(cmd.UsageString(), "\n")}
	}
	return argCountError(cmd, "accepts no arguments")
}

// forEachArg runs fn for every argument in order, printing the argument on success and Docker's
// daemon error line on failure; berth exits 1 if any failed.
func forEachArg(cli *CLI, args []string, fn func(arg string) error) error {
	return forEachArgResult(cli, args, func(arg string) (string, error) {
		return arg, fn(arg)
	})
}

// forEachArgResult is forEachArg for commands that print something other than the argument
// (wait prints each exit code): fn returns the line to print on success.
func forEachArgResult(cli *CLI, args []string, fn func(arg string) (string, error)) error {
	failed := false
	for _, arg := range args {
		line, err := fn(arg)
		if err != nil {
			printDaemonError(cli, err)
			failed = true
			continue
		}
		fmt.Fprintln(cli.Out, line)
	}
	if failed {
		return errDaemonReported
	}
	return nil
}
