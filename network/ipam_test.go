package network

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAllocateIP(t *testing.T) {
	t.Parallel()
	n := &Network{Name: "n", ID: "id", Subnet: "10.5.0.0/29", Gateway: "10.5.0.1", Leases: map[string]*Lease{}}
	var got []string
	for i := 0; i < 5; i++ {
		a, err := allocateIP(n, "")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
		n.Leases[a.String()] = &Lease{IP: a.String()}
	}
	if want := "10.5.0.2 10.5.0.3 10.5.0.4 10.5.0.5 10.5.0.6"; strings.Join(got, " ") != want {
		t.Errorf("allocated %v, want %s", got, want)
	}
	if _, err := allocateIP(n, ""); err == nil || !strings.Contains(err.Error(), "no available IPv4 addresses") {
		t.Errorf("full subnet: %v", err)
	}
	// Release one: it is handed out again.
	delete(n.Leases, "10.5.0.4")
	if a, err := allocateIP(n, ""); err != nil || a.String() != "10.5.0.4" {
		t.Errorf("after release: %v %v", a, err)
	}
}

func TestAllocateIPRequestedAndRange(t *testing.T) {
	t.Parallel()
	n := &Network{Name: "n", Subnet: "10.6.0.0/24", Gateway: "10.6.0.1", IPRange: "10.6.0.128/25", UserSubnet: true,
		Leases: map[string]*Lease{"x": {IP: "10.6.0.128"}}}
	if a, err := allocateIP(n, ""); err != nil || a.String() != "10.6.0.129" {
		t.Errorf("ip-range allocation = %v, %v", a, err)
	}
	for _, tc := range []struct{ req, err string }{
		{"10.6.0.50", ""},
		{"10.6.0.128", "Address already in use"},
		{"10.6.0.1", "Address already in use"},
		{"10.7.0.5", "no configured subnet or ip-range contain the IP address 10.7.0.5"},
		{"zz", "invalid IPv4 address: zz"},
	} {
		_, err := allocateIP(n, tc.req)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("allocateIP(%s) = %v, want %q", tc.req, err, tc.err)
		}
	}
	def := &Network{Name: "bridge", Subnet: "172.17.0.0/16", Gateway: "172.17.0.1", Leases: map[string]*Lease{}}
	if _, err := allocateIP(def, "172.17.0.9"); err == nil || !strings.Contains(err.Error(), "user defined networks only") {
		t.Errorf("--ip on default bridge: %v", err)
	}
}

func TestMacFor(t *testing.T) {
	t.Parallel()
	if got := macFor(netip.MustParseAddr("172.17.0.2")).String(); got != "02:42:ac:11:00:02" {
		t.Errorf("mac = %s", got)
	}
}

func TestPickSubnet(t *testing.T) {
	t.Parallel()
	pools := defaultPools()
	if pools[0].String() != "172.17.0.0/16" || pools[14].String() != "172.31.0.0/16" || pools[15].String() != "192.168.0.0/20" {
		t.Fatalf("pools %v", pools[:16])
	}
	for _, tc := range []struct {
		taken []string
		want  string
	}{
		{nil, "172.17.0.0/16"},
		{[]string{"172.17.0.0/16"}, "172.18.0.0/16"},
		{[]string{"172.17.5.0/24", "172.18.0.0/16"}, "172.19.0.0/16"},
		{[]string{"172.16.0.0/12"}, "192.168.0.0/20"},
		{[]string{"172.16.0.0/12", "192.168.0.0/24"}, "192.168.16.0/20"},
	} {
		var taken []netip.Prefix
		for _, s := range tc.taken {
			taken = append(taken, netip.MustParsePrefix(s))
		}
		got, err := pickSubnet(pools, taken)
		if err != nil || got.String() != tc.want {
			t.Errorf("pickSubnet(%v) = %v, %v; want %s", tc.taken, got, err, tc.want)
		}
	}
	if _, err := pickSubnet(pools, []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")}); err == nil {
		t.Error("expected exhaustion error")
	}
}

func TestLeaseAlive(t *testing.T) {
	t.Parallel()
	self := Self()
	if !(&Lease{OwnerPid: self.Pid, OwnerStart: self.Start}).alive() {
		t.Error("own lease not alive")
	}
	if (&Lease{OwnerPid: self.Pid, OwnerStart: self.Start + 1}).alive() {
		t.Error("reused PID counted as alive")
	}
	if (&Lease{OwnerPid: 1 << 30}).alive() {
		t.Error("missing process counted as alive")
	}
}
