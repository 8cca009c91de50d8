package network

import (
	"reflect"
	"testing"

	"github.com/docker/go-connections/nat"
)

func TestParsePortSpecs(t *testing.T) {
	t.Parallel()
	b := func(ip, port string) nat.PortBinding { return nat.PortBinding{HostIP: ip, HostPort: port} }
	tests := []struct {
		in      []string
		want    nat.PortMap
		wantErr string
	}{
		{in: []string{"3344:80"}, want: nat.PortMap{"80/tcp": {b("", "3344")}}},
		{in: []string{"127.0.0.1:3344:80"}, want: nat.PortMap{"80/tcp": {b("127.0.0.1", "3344")}}},
		{in: []string{"127.0.0.1::80"}, want: nat.PortMap{"80/tcp": {b("127.0.0.1", "")}}},
		{in: []string{"80"}, want: nat.PortMap{"80/tcp": {b("", "")}}},
		{in: []string{"53/udp"}, want: nat.PortMap{"53/udp": {b("", "")}}},
		{in: []string{"5353:53/UDP"}, want: nat.PortMap{"53/udp": {b("", "5353")}}},
		{in: []string{"[::1]:8080:80"}, want: nat.PortMap{"80/tcp": {b("::1", "8080")}}},
		{in: []string{"8000-8001:80-81"}, want: nat.PortMap{"80/tcp": {b("", "8000")}, "81/tcp": {b("", "8001")}}},
		{in: []string{"8000-8010:80"}, want: nat.PortMap{"80/tcp": {b("", "8000-8010")}}},
		{in: []string{"80", "8080:80"}, want: nat.PortMap{"80/tcp": {b("", ""), b("", "8080")}}},
		{in: []string{"target=80,published=8080,protocol=udp"}, want: nat.PortMap{"80/udp": {b("", "8080")}}},
		{in: []string{"99999:80"}, wantErr: "invalid hostPort: 99999"},
		{in: []string{"80:99999"}, wantErr: "invalid containerPort: 99999"},
		{in: []string{"abc:80"}, wantErr: "invalid hostPort: abc"},
		{in: []string{"80/icmp"}, wantErr: "invalid proto: icmp"},
		{in: []string{"1.2.3:80:80"}, wantErr: "invalid IP address: 1.2.3"},
		{in: []string{"8000-8002:80-81"}, wantErr: "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"},
		{in: []string{"3344:"}, wantErr: "no port specified: 3344:<empty>"},
		{in: []string{"target"}, wantErr: "invalid containerPort: target"},
		{in: []string{"a=b,c"}, wantErr: "invalid publish opts format (should be name=value but got 'c')"},
	}
	for _, tc := range tests {
		_, got, err := ParsePortSpecs(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("ParsePortSpecs(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePortSpecs(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePortSpecs(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseExposeSpecs(t *testing.T) {
	t.Parallel()
	got, err := ParseExposeSpecs([]string{"80", "53/udp", "90-91"})
	if err != nil {
		t.Fatal(err)
	}
	want := nat.PortSet{"80/tcp": {}, "53/udp": {}, "90/tcp": {}, "91/tcp": {}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	if _, err := ParseExposeSpecs([]string{"1:2"}); err == nil {
		t.Error("expected error for 1:2")
	}
}

func TestValidators(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, err string
	}{
		{"db:10.0.0.2", "db:10.0.0.2", ""},
		{"db=10.0.0.2", "db:10.0.0.2", ""},
		{"v6:[::1]", "v6:::1", ""},
		{"v6=::1", "v6:::1", ""},
		{"gw:host-gateway", "gw:host-gateway", ""},
		{"db", "", `bad format for add-host: "db"`},
		{"db:nope", "", `invalid IP address in add-host: "nope"`},
	} {
		got, err := ParseExtraHost(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseExtraHost(%q) err %v want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseExtraHost(%q) = %q, %v want %q", tc.in, got, err, tc.want)
		}
	}
	for mode, ok := range map[string]bool{"bridge": true, "host": true, "none": true, "container:web": true, "container:": false, "my-net": true, "bad name": false} {
		if err := ValidateMode(mode); (err == nil) != ok {
			t.Errorf("ValidateMode(%q) = %v", mode, err)
		}
	}
	if _, err := ValidateDNS("1.1.1.x"); err == nil {
		t.Error("ValidateDNS accepted junk")
	}
	if err := ValidateMAC("02:42:ac:11:00:02"); err != nil {
		t.Error(err)
	}
	if err := ValidateMAC("zz"); err == nil {
		t.Error("ValidateMAC accepted junk")
	}
}
