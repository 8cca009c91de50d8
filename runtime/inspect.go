package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/blkiodev"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/storage"
	"github.com/docker/go-connections/nat"
)

// InspectOptions tune Inspect.
type InspectOptions struct {
	// Size computes SizeRw (the writable layer) and SizeRootFs (writable layer plus image).
	Size bool
	// ImageSize returns the size of the image with the given ID, for SizeRootFs. Nil counts the
	// image as empty.
	ImageSize func(imageID string) (int64, error)
}

// Inspect returns the container as `docker inspect` shows it, in Docker's own API type so the
// JSON has Docker's field names and shape.
func (r *Runtime) Inspect(c *Container, opts InspectOptions) (*container.InspectResponse, error) {
	resp := InspectResponse(r.Layout, c)
	if opts.Size {
		rw, err := r.SizeRw(c.ID)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", c.ID, err)
		}
		root := rw
		if opts.ImageSize != nil && c.ImageID != "" {
			if n, err := opts.ImageSize(c.ImageID); err == nil {
				root += n
			}
		}
		resp.SizeRw, resp.SizeRootFs = &rw, &root
	}
	return resp, nil
}

// InspectResponse builds Docker's inspect document for c from its record and state alone.
func InspectResponse(l Layout, c *Container) *container.InspectResponse {
	dir := l.ContainerDir(c.ID)
	st := c.State
	running := c.IsRunning()
	pid := 0
	if running {
		pid = st.Pid
	}
	status := st.Status
	if status == "" {
		status = StatusCreated
	}
	args := c.Args
	if args == nil {
		args = []string{}
	}
	base := &container.ContainerJSONBase{
		ID:      c.ID,
		Created: c.Created.UTC().Format(time.RFC3339Nano),
		Path:    c.Path,
		Args:    args,
		State: &container.State{
			Status:     container.ContainerState(status),
			Running:    running,
			Paused:     status == StatusPaused,
			Restarting: status == StatusRestarting,
			OOMKilled:  st.OOMKilled,
			Dead:       status == StatusDead,
			Pid:        pid,
			ExitCode:   st.ExitCode,
			Error:      st.Error,
			StartedAt:  formatInspectTime(st.StartedAt),
			FinishedAt: formatInspectTime(st.FinishedAt),
		},
		Image:          c.ImageID,
		ResolvConfPath: existingPath(filepath.Join(dir, "resolv.conf")),
		HostnamePath:   existingPath(filepath.Join(dir, "hostname")),
		HostsPath:      existingPath(filepath.Join(dir, "hosts")),
		LogPath:        l.LogPath(c.ID),
		Name:           "/" + c.Name,
		RestartCount:   st.RestartCount,
		Driver:         "overlay2",
		Platform:       "linux",
		HostConfig:     inspectHostConfig(c.HostConfig),
		GraphDriver: storage.DriverData{
			Name: "overlay2",
			Data: map[string]string{
				"LowerDir":  strings.Join(c.LowerDirs, ":"),
				"MergedDir": filepath.Join(dir, "merged"),
				"UpperDir":  containerUpperDir(l, c.ID),
				"WorkDir":   filepath.Join(dir, "work"),
			},
		},
	}
	if len(c.LowerDirs) == 0 {
		delete(base.GraphDriver.Data, "LowerDir")
	}
	mounts := c.Mounts
	if mounts == nil {
		mounts = []container.MountPoint{}
	}
	return &container.InspectResponse{
		ContainerJSONBase: base,
		Mounts:            mounts,
		Config:            inspectConfig(c.Config),
		NetworkSettings:   inspectNetworkSettings(c),
	}
}

// formatInspectTime is Docker's RFC 3339 form; the zero time prints as "0001-01-01T00:00:00Z".
func formatInspectTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func existingPath(p string) string {
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// inspectConfig returns a copy of cfg with Docker's non-null defaults (Labels {}).
func inspectConfig(cfg *container.Config) *container.Config {
	out := container.Config{}
	if cfg != nil {
		out = *cfg
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	return &out
}

// inspectHostConfig returns a copy of hc with the values Docker's daemon fills in at create
// time where the record left them empty.
func inspectHostConfig(hc *container.HostConfig) *container.HostConfig {
	out := container.HostConfig{}
	if hc != nil {
		out = *hc
	}
	if out.LogConfig.Type == "" {
		out.LogConfig.Type = "json-file"
	}
	if out.LogConfig.Config == nil {
		out.LogConfig.Config = map[string]string{}
	}
	if out.NetworkMode == "" {
		out.NetworkMode = "bridge"
	}
	if out.PortBindings == nil {
		out.PortBindings = nat.PortMap{}
	}
	if out.RestartPolicy.Name == "" {
		out.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if out.IpcMode == "" {
		out.IpcMode = "private"
	}
	if out.CgroupnsMode == "" {
		if cgroup2() {
			out.CgroupnsMode = container.CgroupnsModePrivate
		} else {
			out.CgroupnsMode = container.CgroupnsModeHost
		}
	}
	if out.ShmSize == 0 {
		out.ShmSize = DefaultShmSize
	}
	if out.Runtime == "" {
		out.Runtime = "runc"
	}
	if out.DNS == nil {
		out.DNS = []string{}
	}
	if out.DNSOptions == nil {
		out.DNSOptions = []string{}
	}
	if out.DNSSearch == nil {
		out.DNSSearch = []string{}
	}
	if out.BlkioWeightDevice == nil {
		out.BlkioWeightDevice = []*blkiodev.WeightDevice{}
	}
	if out.BlkioDeviceReadBps == nil {
		out.BlkioDeviceReadBps = []*blkiodev.ThrottleDevice{}
	}
	if out.BlkioDeviceWriteBps == nil {
		out.BlkioDeviceWriteBps = []*blkiodev.ThrottleDevice{}
	}
	if out.BlkioDeviceReadIOps == nil {
		out.BlkioDeviceReadIOps = []*blkiodev.ThrottleDevice{}
	}
	if out.BlkioDeviceWriteIOps == nil {
		out.BlkioDeviceWriteIOps = []*blkiodev.ThrottleDevice{}
	}
	if out.Devices == nil {
		out.Devices = []container.DeviceMapping{}
	}
	if out.Ulimits == nil {
		out.Ulimits = []*container.Ulimit{}
	}
	if out.OomKillDisable == nil && !cgroup2() {
		f := false
		out.OomKillDisable = &f
	}
	if !out.Privileged {
		if out.MaskedPaths == nil {
			out.MaskedPaths = append([]string{}, defaultMaskedPaths...)
		}
		if out.ReadonlyPaths == nil {
			out.ReadonlyPaths = append([]string{}, defaultReadonlyPaths...)
		}
	}
	return &out
}

// inspectNetworkSettings merges the networks asked for at create (Record.Networks) with the live
// endpoints (State.Networks, filled while the container runs) and the published ports.
func inspectNetworkSettings(c *Container) *container.NetworkSettings {
	nets := map[string]*network.EndpointSettings{}
	for name, ep := range c.Record.Networks {
		if ep == nil {
			nets[name] = &network.EndpointSettings{}
			continue
		}
		nets[name] = ep.Copy()
	}
	running := c.IsRunning()
	if running {
		for name, ep := range c.State.Networks {
			if ep == nil {
				continue
			}
			live := ep.Copy()
			if asked := nets[name]; asked != nil {
				if live.IPAMConfig == nil {
					live.IPAMConfig = asked.IPAMConfig
				}
				if live.Aliases == nil {
					live.Aliases = asked.Aliases
				}
				if live.Links == nil {
					live.Links = asked.Links
				}
				if live.DriverOpts == nil {
					live.DriverOpts = asked.DriverOpts
				}
			}
			nets[name] = live
		}
	}
	if len(nets) == 0 && c.HostConfig != nil {
		// A container made before the network settings were recorded: show its mode.
		mode := string(c.HostConfig.NetworkMode)
		if mode == "" || mode == "default" {
			mode = "bridge"
		}
		if !strings.HasPrefix(mode, "container:") {
			nets[mode] = &network.EndpointSettings{}
		}
	}

	ports := nat.PortMap{}
	if running {
		if c.Config != nil {
			for p := range c.Config.ExposedPorts {
				ports[p] = nil
			}
		}
		for k, bindings := range c.State.Ports {
			pb := make([]nat.PortBinding, 0, len(bindings))
			for _, b := range bindings {
				pb = append(pb, nat.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort})
			}
			ports[nat.Port(k)] = pb
		}
	}

	ns := &container.NetworkSettings{Networks: nets}
	ns.Ports = ports
	if running && c.State.SandboxKey != "" {
		ns.SandboxKey = c.State.SandboxKey
		sum := sha256.Sum256([]byte(c.ID + "\x00" + c.State.SandboxKey + "\x00" + c.StartedAt.String()))
		ns.SandboxID = hex.EncodeToString(sum[:])
	}
	if ep := nets["bridge"]; ep != nil {
		ns.EndpointID = ep.EndpointID
		ns.Gateway = ep.Gateway
		ns.GlobalIPv6Address = ep.GlobalIPv6Address
		ns.GlobalIPv6PrefixLen = ep.GlobalIPv6PrefixLen
		ns.IPAddress = ep.IPAddress
		ns.IPPrefixLen = ep.IPPrefixLen
		ns.IPv6Gateway = ep.IPv6Gateway
		ns.MacAddress = ep.MacAddress
	}
	return ns
}
