// Package parser reads a Dockerfile into a syntax tree of instruction nodes (parser directives,
// comments, line continuations, JSON and shell forms, heredocs), with the exported API of
// BuildKit's frontend/dockerfile/parser.
package parser
