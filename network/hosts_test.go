package network

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestHostsRender(t *testing.T) {
	t.Parallel()
	h := HostsFile{
		Self:  []HostEntry{{IP: "172.17.0.2", Names: []string{"web"}}},
		Extra: []string{"db:10.0.0.5", "gw:host-gateway"},
		Links: []HostEntry{{IP: "172.17.0.3", Names: []string{"cache", "redis", "0123456789ab"}}},
	}
	got := string(h.Render("172.17.0.1"))
	want := defaultHosts + "10.0.0.5\tdb\n172.17.0.1\tgw\n172.17.0.3\tcache redis 0123456789ab\n172.17.0.2\tweb\n" + peersMarker
	if got != want {
		t.Errorf("Render:\n%s\nwant:\n%s", got, want)
	}
	base := HostsFile{Base: []byte("127.0.0.1 localhost myhost")}
	if got := string(base.Render("")); !strings.HasPrefix(got, "127.0.0.1 localhost myhost\n") {
		t.Errorf("host hosts: %q", got)
	}
}

func TestRewriteInPlaceKeepsInode(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "hosts")
	if err := rewriteInPlace(p, []byte("static\n"+peersMarker), renderPeers([]HostEntry{{IP: "10.0.0.2", Names: []string{"a", "0123"}}})); err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(p)
	if err := rewriteInPlace(p, nil, renderPeers([]HostEntry{{IP: "10.0.0.3", Names: []string{"b"}}})); err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(p)
	if st1.Sys().(*syscall.Stat_t).Ino != st2.Sys().(*syscall.Stat_t).Ino {
		t.Error("inode changed")
	}
	data, _ := os.ReadFile(p)
	if want := "static\n" + peersMarker + "10.0.0.3\tb\n"; string(data) != want {
		t.Errorf("got %q want %q", data, want)
	}
}

func TestRenderResolvConf(t *testing.T) {
	t.Parallel()
	host := []byte("# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch example.com\noptions edns0\n")
	for _, tc := range []struct {
		name string
		host []byte
		cfg  DNSConfig
		want string
	}{
		{"filters loopback", host, DNSConfig{}, "search example.com\nnameserver 10.0.0.1\noptions edns0\n"},
		{"only loopback falls back", []byte("nameserver 127.0.0.1\nnameserver ::1\n"), DNSConfig{}, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"host mode keeps loopback", []byte("nameserver 127.0.0.1\n"), DNSConfig{KeepLoopback: true}, "nameserver 127.0.0.1\n"},
		{"flags override", host, DNSConfig{Servers: []string{"1.1.1.1"}, Search: []string{"a.b"}, Options: []string{"ndots:2"}}, "search a.b\nnameserver 1.1.1.1\noptions ndots:2\n"},
		{"search dot clears", host, DNSConfig{Search: []string{"."}}, "nameserver 10.0.0.1\noptions edns0\n"},
	} {
		if got := string(RenderResolvConf(tc.host, tc.cfg)); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

func TestPortElem(t *testing.T) {
	t.Parallel()
	set, k, v, err := portElem(PublishedPort{Proto: "tcp", HostPort: 3344, ContainerIP: "172.17.0.2", ContainerPort: 80})
	if err != nil || set != mapAnyPorts {
		t.Fatal(set, err)
	}
	if string(k) != string([]byte{6, 0, 0, 0, 0x0d, 0x10, 0, 0}) || string(v) != string([]byte{172, 17, 0, 2, 0, 80, 0, 0}) {
		t.Errorf("key % x val % x", k, v)
	}
	set, k, _, err = portElem(PublishedPort{Proto: "udp", HostIP: "127.0.0.1", HostPort: 53, ContainerIP: "172.17.0.2", ContainerPort: 53})
	if err != nil || set != mapIPPorts || string(k[:5]) != string([]byte{127, 0, 0, 1, 17}) {
		t.Errorf("ipports: %s % x %v", set, k, err)
	}
}
