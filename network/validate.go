package network

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
)

// Built-in network and mode names.
const (
	ModeDefault = "default"
	ModeBridge  = "bridge"
	ModeHost    = "host"
	ModeNone    = "none"
	// ContainerPrefix starts "container:NAME" modes.
	ContainerPrefix = "container:"
)

// validName is Docker's rule for network names (and container names).
// It is compiled on first use: every berth process would otherwise pay for it at start.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// ValidateMode checks the syntax of a --network value: bridge, host, none, default,
// container:NAME or a user-defined network name. Whether a named network or container exists is
// checked by the caller (see Lookup) at create time.
func ValidateMode(mode string) error {
	switch {
	case mode == "", mode == ModeDefault, mode == ModeBridge, mode == ModeHost, mode == ModeNone:
		return nil
	case strings.HasPrefix(mode, ContainerPrefix):
		if strings.TrimPrefix(mode, ContainerPrefix) == "" {
			return fmt.Errorf("invalid container format container:<name|id>")
		}
		return nil
	case strings.TrimSpace(mode) == "":
		return errors.New("no name set for network")
	case !validName().MatchString(mode):
		return fmt.Errorf("network %s not found", mode)
	}
	return nil
}

// IsUserDefined reports whether mode names a user-defined network (not a built-in mode).
func IsUserDefined(mode string) bool {
	switch {
	case mode == "", mode == ModeDefault, mode == ModeBridge, mode == ModeHost, mode == ModeNone:
		return false
	case strings.HasPrefix(mode, ContainerPrefix):
		return false
	}
	return true
}

// ParseExtraHost validates an --add-host value (HOST:IP, HOST=IP, HOST:[IPv6] or
// HOST:host-gateway) and returns it as "HOST:IP", the form Docker stores in HostConfig.ExtraHosts.
func ParseExtraHost(val string) (string, error) {
	k, v, ok := strings.Cut(val, "=")
	if !ok {
		k, v, ok = strings.Cut(val, ":")
	}
	if !ok || k == "" || strings.Contains(k, ":") {
		return "", fmt.Errorf("bad format for add-host: %q", val)
	}
	if v != HostGateway {
		if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
			v = v[1 : len(v)-1]
		}
		if net.ParseIP(v) == nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", v)
		}
	}
	return k + ":" + v, nil
}

// HostGateway is the special --add-host value that resolves to the host's address on the
// container's network (the bridge gateway).
const HostGateway = "host-gateway"

// ValidateDNS checks a --dns value the way Docker's CLI does and returns it canonicalised.
func ValidateDNS(val string) (string, error) {
	ip := net.ParseIP(strings.TrimSpace(val))
	if ip == nil {
		return "", fmt.Errorf("IP address is not correctly formatted: %s", val)
	}
	return ip.String(), nil
}

// ValidateMAC checks a --mac-address value.
func ValidateMAC(val string) error {
	if _, err := net.ParseMAC(strings.TrimSpace(val)); err != nil {
		return fmt.Errorf("%s is not a valid mac address", val)
	}
	return nil
}

// ValidateIPv4 checks an --ip value.
func ValidateIPv4(val string) error {
	ip := net.ParseIP(val)
	if ip == nil || ip.To4() == nil || ip.IsUnspecified() {
		return fmt.Errorf("invalid IPv4 address: %s", val)
	}
	return nil
}
