// Package seccompcache saves the ~25 ms of CPU that libseccomp spends compiling Docker's
// default profile into BPF every time libcontainer's init starts a container process (run,
// start, restart, exec).
//
// libcontainer builds its filter through libseccomp in the container's init process and asks
// libseccomp to export it as BPF (seccomp_export_bpf), which is where the time goes. With the
// seccomp build tag this package wraps, at link time (-Wl,--wrap), the libseccomp calls that
// shape a filter: it records every call and argument made on a filter context (the default
// action, architectures, attributes, rules with their argument conditions) together with
// libseccomp's version and API level. When the filter is exported it looks for a cache entry
// whose recorded calls are byte-for-byte the same and, if there is one, writes the cached program
// instead of generating it; otherwise it generates the program, writes it and stores it. The
// key is the whole input of the compiler, so a hit returns exactly what libseccomp would have
// generated, and any filter shaped in a way the recorder does not follow (merged contexts,
// syscall priorities) is never cached.
//
// Adding Docker's ~400 rules costs libseccomp milliseconds too, so with libseccomp 2.5 (whose
// every reader of a filter context is wrapped) the calls are not even made while the cache has
// an entry that recorded the same calls so far: each call's return code comes from that entry
// (libseccomp is deterministic for a given version, API level and sequence of calls). When the
// calls part from every entry, or something reads the context (attributes, architectures, a
// load), the recorded calls are made first, in order; one that returns other than the entry
// said poisons the context, which is then never exported or loaded.
//
// The cache is a directory of root-only files, Dir relative to the container's rootfs
// (<root>/seccomp). libcontainer starts its init with the rootfs as working directory; a C
// constructor that runs before nsenter's (and before the Go runtime) opens the directory there
// while the process still sees the host's mounts, and keeps the descriptor (close-on-exec) for
// the export, which happens after pivot_root. Every other berth process leaves the cache off.
package seccompcache

// RelDir is the cache directory relative to a container's rootfs (<root>/containers/<id>/merged),
// that is <root>/seccomp; the C side opens the same path (see cache.c).
const RelDir = "../../../seccomp"
