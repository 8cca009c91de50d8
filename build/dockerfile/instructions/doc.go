// Package instructions turns a Dockerfile's syntax tree into typed instructions grouped in
// build stages, with the exported API of BuildKit's frontend/dockerfile/instructions.
package instructions
