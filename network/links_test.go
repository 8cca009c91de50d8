package network

import (
	"reflect"
	"testing"

	"github.com/docker/go-connections/nat"
)

func TestLinkEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		link  string
		ports []nat.Port
		env   []string
		want  []string
	}{
		{
			name: "no ports", link: "/app/db", env: []string{"PATH=/bin", "HOME=/root", "PASS=x=y", "NOVALUE"},
			want: []string{"DB_NAME=/app/db", "DB_ENV_PASS=x=y"},
		},
		{
			name: "one port, dashed alias", link: "/app/my-web", ports: []nat.Port{"80/tcp"},
			want: []string{
				"MY_WEB_PORT=tcp://172.17.0.2:80",
				"MY_WEB_PORT_80_TCP=tcp://172.17.0.2:80", "MY_WEB_PORT_80_TCP_ADDR=172.17.0.2",
				"MY_WEB_PORT_80_TCP_PORT=80", "MY_WEB_PORT_80_TCP_PROTO=tcp",
				"MY_WEB_NAME=/app/my-web",
			},
		},
		{
			name: "tcp before udp, a range", link: "/p/s", ports: []nat.Port{"53/udp", "8001/tcp", "8000/tcp", "443/tcp"},
			want: []string{
				"S_PORT=tcp://172.17.0.2:443",
				"S_PORT_443_TCP=tcp://172.17.0.2:443", "S_PORT_443_TCP_ADDR=172.17.0.2", "S_PORT_443_TCP_PORT=443", "S_PORT_443_TCP_PROTO=tcp",
				"S_PORT_8000_TCP=tcp://172.17.0.2:8000", "S_PORT_8000_TCP_ADDR=172.17.0.2", "S_PORT_8000_TCP_PORT=8000", "S_PORT_8000_TCP_PROTO=tcp",
				"S_PORT_8001_TCP=tcp://172.17.0.2:8001", "S_PORT_8001_TCP_ADDR=172.17.0.2", "S_PORT_8001_TCP_PORT=8001", "S_PORT_8001_TCP_PROTO=tcp",
				"S_PORT_53_UDP=udp://172.17.0.2:53", "S_PORT_53_UDP_ADDR=172.17.0.2", "S_PORT_53_UDP_PORT=53", "S_PORT_53_UDP_PROTO=udp",
				"S_PORT_8000_TCP_START=tcp://172.17.0.2:8000", "S_PORT_8000_TCP_PORT_START=8000",
				"S_PORT_8000_TCP_END=tcp://172.17.0.2:8001", "S_PORT_8000_TCP_PORT_END=8001",
				"S_NAME=/p/s",
			},
		},
	} {
		ports := nat.PortSet{}
		for _, p := range tc.ports {
			ports[p] = struct{}{}
		}
		if got := LinkEnv(tc.link, "172.17.0.2", ports, tc.env); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
