package image

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInsecureRegistry(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "registries.json")
	if err := os.WriteFile(cfg, []byte(`{"insecure-registries": ["myreg.lan:5000", "bare.lan", "10.0.0.0/8"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_REGISTRIES_CONFIG", cfg)
	cases := map[string]bool{
		"localhost:5000":   true, // loopback: always plain HTTP, as Docker
		"127.0.0.1:5000":   true,
		"127.9.9.9":        true,
		"[::1]:5000":       true,
		"myreg.lan:5000":   true,
		"myreg.lan:5001":   false, // listed with another port
		"bare.lan:443":     true,  // listed by host alone
		"10.1.2.3:5000":    true,  // in a listed CIDR
		"192.168.1.1:5000": false,
		"index.docker.io":  false,
		"registry.example": false,
	}
	for reg, want := range cases {
		got, err := insecureRegistry(reg)
		if err != nil || got != want {
			t.Errorf("insecureRegistry(%q) = %v, %v; want %v", reg, got, err, want)
		}
	}

	t.Setenv("BERTH_REGISTRIES_CONFIG", filepath.Join(dir, "missing.json"))
	if got, err := insecureRegistry("myreg.lan:5000"); err != nil || got {
		t.Errorf("without a config file: %v, %v", got, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_REGISTRIES_CONFIG", bad)
	if _, err := insecureRegistry("myreg.lan:5000"); err == nil {
		t.Error("a malformed config file is not reported")
	}
	if got, err := insecureRegistry("127.0.0.1:5000"); err != nil || !got {
		t.Errorf("loopback needs no config file: %v, %v", got, err)
	}
}
