package network

import (
	"fmt"
	"strings"

	"github.com/docker/go-connections/nat"
)

// ParsePortSpecs parses -p/--publish values in every form Docker accepts (HOSTPORT:CPORT,
// IP:HOSTPORT:CPORT, IP::CPORT, CPORT, ranges, /tcp /udp /sctp, bracketed IPv6 and the long
// "target=80,published=8080,protocol=udp" form) into the exposed ports and their bindings.
// Errors use Docker's wording ("invalid hostPort: 99999").
func ParsePortSpecs(specs []string) (nat.PortSet, nat.PortMap, error) {
	converted := make([]string, 0, len(specs))
	for _, s := range specs {
		c, err := convertLongPortSyntax(s)
		if err != nil {
			return nil, nil, err
		}
		converted = append(converted, c)
	}
	exposed, bindings, err := nat.ParsePortSpecs(converted)
	if err != nil {
		return nil, nil, err
	}
	return nat.PortSet(exposed), nat.PortMap(bindings), nil
}

// convertLongPortSyntax turns "target=80,published=8080,protocol=udp" into "8080:80/udp" as the
// Docker CLI does; other values pass through.
func convertLongPortSyntax(spec string) (string, error) {
	if !strings.Contains(spec, "=") {
		return spec, nil
	}
	params := map[string]string{"protocol": "tcp"}
	for _, param := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(param, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", param)
		}
		params[k] = v
	}
	return fmt.Sprintf("%s:%s/%s", params["published"], params["target"], params["protocol"]), nil
}

// ParseExposeSpecs parses --expose values (PORT[/PROTO] or START-END[/PROTO]) as Docker does.
func ParseExposeSpecs(specs []string) (nat.PortSet, error) {
	set := nat.PortSet{}
	for _, e := range specs {
		if strings.Contains(e, ":") {
			return nil, fmt.Errorf("invalid port format for --expose: %s", e)
		}
		proto, port := nat.SplitProtoPort(e)
		start, end, err := nat.ParsePortRange(port)
		if err != nil {
			return nil, fmt.Errorf("invalid range format for --expose: %s, error: %s", e, err)
		}
		for i := start; i <= end; i++ {
			p, err := nat.NewPort(proto, fmt.Sprint(i))
			if err != nil {
				return nil, fmt.Errorf("invalid port format for --expose: %s: %w", e, err)
			}
			set[p] = struct{}{}
		}
	}
	return set, nil
}
