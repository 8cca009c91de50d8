package runtime

import (
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// Status values, as Docker's State.Status spells them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusRemoving   = "removing"
	StatusExited     = "exited"
	StatusDead       = "dead"
)

// Record is what a container was asked to be at create time; it is stored as
// containers/<id>/config.json and changes only through rename, update, network connect and the like.
// Config and HostConfig use Docker's own API types so inspect prints Docker's JSON shape.
type Record struct {
	ID string
	// Name is without the leading "/". It is indexed under root/names: change it only through
	// (*Runtime).Rename, which keeps the index and the uniqueness rule.
	Name    string
	Created time.Time

	// Image is the reference as the user gave it (normalised where Docker normalises),
	// ImageID the image's config digest ("sha256:...").
	Image   string
	ImageID string

	// Path and Args are the resolved process: entrypoint + cmd after applying the image.
	Path string
	Args []string

	Config     *container.Config
	HostConfig *container.HostConfig

	// Mounts are the resolved mounts (volumes, binds, tmpfs) in Docker's inspect form.
	Mounts []container.MountPoint
	// TmpfsOptions keeps the options of tmpfs mounts taken from another container through
	// --volumes-from (destination -> "size=5242880,mode=1700"), as Docker keeps a mount's spec.
	TmpfsOptions map[string]string `json:",omitempty"`

	// Networks are the networks the container is attached to, by network name, with the
	// endpoint settings asked for (aliases, static IP, links).
	Networks map[string]*network.EndpointSettings

	// LowerDirs are the image's layer directories, top layer first, captured at create.
	LowerDirs []string
}

// State is a container's runtime state, stored as containers/<id>/state.json and written by the
// CLI and the monitor under the container's lock.
type State struct {
	Status string

	// Pid is the container's init process on the host; PidStart its start time (field 22 of
	// /proc/PID/stat), so a reused PID never looks alive.
	Pid      int
	PidStart uint64

	// MonitorPid and MonitorStart identify the container's monitor process in the same way.
	MonitorPid   int
	MonitorStart uint64

	ExitCode   int
	OOMKilled  bool
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time

	RestartCount int
	// ManuallyStopped is set by stop/kill so that restart policies (unless-stopped, always)
	// do not bring the container back.
	ManuallyStopped bool

	// Networks holds the live endpoint of each attached network (IP, gateway, MAC, IDs),
	// filled in by the monitor once the network is wired; it is empty while stopped.
	Networks map[string]*network.EndpointSettings
	// Ports are the host ports actually published (random ports resolved).
	Ports map[string][]PortBinding
	// SandboxKey is the path of the container's network namespace while it runs.
	SandboxKey string
}

// PortBinding is one published port as the host sees it.
type PortBinding struct {
	HostIP   string
	HostPort string
}

// Layout names the files and folders of one store (--root and --runroot).
type Layout struct {
	Root    string
	RunRoot string
}

// ContainerDir is the container's folder under the persistent root.
func (l Layout) ContainerDir(id string) string { return filepath.Join(l.Root, "containers", id) }

// ConfigPath is the container's config.json.
func (l Layout) ConfigPath(id string) string { return filepath.Join(l.ContainerDir(id), "config.json") }

// StatePath is the container's state.json.
func (l Layout) StatePath(id string) string { return filepath.Join(l.ContainerDir(id), "state.json") }

// LogPath is the container's json-file log.
func (l Layout) LogPath(id string) string {
	return filepath.Join(l.ContainerDir(id), id+"-json.log")
}

// SeccompDir caches compiled seccomp programs (package internal/seccompcache); it must stay
// at seccompcache.RelDir from every container's rootfs.
func (l Layout) SeccompDir() string { return filepath.Join(l.Root, "seccomp") }

// RuntimeDir is where libcontainer keeps its state for the container.
func (l Layout) RuntimeDir() string { return filepath.Join(l.RunRoot, "runtime") }

// NetnsPath is the bind-mounted network namespace of a running container.
func (l Layout) NetnsPath(id string) string { return filepath.Join(l.RunRoot, "netns", id) }

// AttachSocket is the monitor's attach socket.
func (l Layout) AttachSocket(id string) string {
	return filepath.Join(l.RunRoot, "containers", id, "attach.sock")
}
