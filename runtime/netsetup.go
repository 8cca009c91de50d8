package runtime

// This file is the seam between the container life cycle and package network. The monitor calls
// setupNetwork before the container's process starts and teardownNetwork after it exits (and the
// reconciler calls teardownNetwork for containers whose monitor died). Owned by the network work.

// netSetup says how the container's process joins a network namespace.
type netSetup struct {
	// Host means: share the host's network namespace (no CLONE_NEWNET).
	Host bool
	// NsPath, when set, is an existing namespace to join (bridge networks bind-mount theirs under
	// RunRoot/netns/<id>; container:NAME joins the other container's). Empty and !Host means a
	// fresh, empty namespace made by libcontainer (--network none).
	NsPath string
}

// setupNetwork prepares the container's network before start, records the live endpoints in st
// (Networks, Ports, SandboxKey) and writes hosts, hostname and resolv.conf in the container's folder.
func setupNetwork(l Layout, rec *Record, st *State) (netSetup, error) {
	mode := "bridge"
	if rec.HostConfig != nil && rec.HostConfig.NetworkMode != "" {
		mode = string(rec.HostConfig.NetworkMode)
	}
	if err := writeEtcFiles(l, rec, st); err != nil {
		return netSetup{}, err
	}
	return netSetup{Host: mode == "host"}, nil
}

// teardownNetwork releases everything setupNetwork made: veth, netns mount, nft rules, IP lease.
// It is idempotent.
func teardownNetwork(l Layout, rec *Record, st *State) error {
	st.Networks = nil
	st.Ports = nil
	st.SandboxKey = ""
	return nil
}
