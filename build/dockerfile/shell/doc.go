// Package shell expands variables and splits words the way Dockerfile instructions do: a small
// POSIX-shell subset ($VAR, ${VAR}, ${VAR:-word} and friends, quotes and the escape token),
// with the exported API of BuildKit's frontend/dockerfile/shell.
package shell
