// Package runtime runs containers through libcontainer without a daemon: it keeps each
// container's record (config.json) and state (state.json) under the store root, starts a
// per-container monitor process, and implements the life cycle commands on top of them.
package runtime
