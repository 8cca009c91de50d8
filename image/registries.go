package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// RegistriesConfig is the file listing registries that berth reaches over plain HTTP (or
// HTTPS without certificate checks), like the "insecure-registries" of Docker's daemon.json.
// BERTH_REGISTRIES_CONFIG overrides the path.
const RegistriesConfig = "/etc/berth/registries.json"

type registriesFile struct {
	InsecureRegistries []string `json:"insecure-registries"`
}

// insecureRegistry tells whether registry ("host[:port]") may be reached without TLS: loopback
// registries always (as Docker does), others when registries.json lists them by host[:port] or by
// CIDR.
func insecureRegistry(registry string) (bool, error) {
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return true, nil
	}
	path := os.Getenv("BERTH_REGISTRIES_CONFIG")
	if path == "" {
		path = RegistriesConfig
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	var cfg registriesFile
	if err := json.Unmarshal(data, &cfg); err != nil {
		return false, fmt.Errorf("parse %s: %w", path, err)
	}
	for _, r := range cfg.InsecureRegistries {
		if r == registry || r == host {
			return true, nil
		}
		if _, n, err := net.ParseCIDR(r); err == nil && ip != nil && n.Contains(ip) {
			return true, nil
		}
	}
	return false, nil
}
