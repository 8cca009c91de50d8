package instructions

import "fmt"

// NetworkMode is the value of RUN --network.
type NetworkMode = string

// The network modes RUN --network accepts.
const (
	NetworkDefault NetworkMode = "default"
	NetworkNone    NetworkMode = "none"
	NetworkHost    NetworkMode = "host"
)

// runFlags are RUN's own flags, kept as written: berth's classic builder rejects them, BuildKit
// gives them meaning.
type runFlags struct {
	mounts  []string
	devices []string
	network NetworkMode
}

// addRunFlags declares RUN's flags on bf and returns a function that reads them after Parse.
func addRunFlags(bf *BFlags) func() (*runFlags, error) {
	device := bf.AddStrings("device")
	mount := bf.AddStrings("mount")
	network := bf.AddString("network", NetworkDefault)
	return func() (*runFlags, error) {
		switch network.Value {
		case NetworkDefault, NetworkNone, NetworkHost:
		default:
			return nil, fmt.Errorf("invalid network mode %q", network.Value)
		}
		return &runFlags{mounts: mount.StringValues, devices: device.StringValues, network: network.Value}, nil
	}
}

// GetNetwork returns the RUN's --network ("default" when not given).
func GetNetwork(cmd *RunCommand) NetworkMode {
	if cmd.run == nil {
		return NetworkDefault
	}
	return cmd.run.network
}

// GetMountSpecs returns the RUN's --mount values as written (expanded after Expand). BuildKit's
// GetMounts parses them; berth does not support them.
func GetMountSpecs(cmd *RunCommand) []string {
	if cmd.run == nil {
		return nil
	}
	return cmd.run.mounts
}

// GetDeviceSpecs returns the RUN's --device values as written.
func GetDeviceSpecs(cmd *RunCommand) []string {
	if cmd.run == nil {
		return nil
	}
	return cmd.run.devices
}
