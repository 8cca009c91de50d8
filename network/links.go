package network

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/docker/go-connections/nat"
)

// LinkEnv returns the environment variables Docker gives a container for one --link: linkName is
// the link's full name ("/parent/alias"), childIP the linked container's address on the default
// bridge, ports its exposed ports and childEnv its environment. For alias "web" and port 80/tcp:
//
//	WEB_PORT=tcp://IP:80
//	WEB_PORT_80_TCP=tcp://IP:80, WEB_PORT_80_TCP_ADDR=IP, WEB_PORT_80_TCP_PORT=80, WEB_PORT_80_TCP_PROTO=tcp
//	WEB_PORT_8000_TCP_START=..., _PORT_START, _END, _PORT_END for runs of consecutive ports
//	WEB_NAME=/parent/web
//	WEB_ENV_<VAR>=value for each of the child's variables but HOME and PATH
func LinkEnv(linkName, childIP string, ports nat.PortSet, childEnv []string) []string {
	_, n := path.Split(linkName)
	alias := strings.ReplaceAll(strings.ToUpper(n), "-", "_")
	sorted := make([]nat.Port, 0, len(ports))
	for p := range ports {
		sorted = append(sorted, p)
	}
	// TCP ports first, each protocol by number (Docker's order: the first is ALIAS_PORT).
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		pa, pb := strings.ToLower(a.Proto()), strings.ToLower(b.Proto())
		switch {
		case pa == pb:
			return a.Int() < b.Int()
		case pa == "tcp":
			return true
		case pb == "tcp":
			return false
		}
		return pa < pb
	})
	var env []string
	if len(sorted) > 0 {
		p := sorted[0]
		env = append(env, fmt.Sprintf("%s_PORT=%s://%s:%d", alias, p.Proto(), childIP, p.Int()))
	}
	rangeVars := func(first, last nat.Port) {
		if first == last {
			return
		}
		prefix := fmt.Sprintf("%s_PORT_%d_%s", alias, first.Int(), strings.ToUpper(first.Proto()))
		env = append(env,
			fmt.Sprintf("%s_START=%s://%s:%d", prefix, first.Proto(), childIP, first.Int()),
			fmt.Sprintf("%s_PORT_START=%d", prefix, first.Int()),
			fmt.Sprintf("%s_END=%s://%s:%d", prefix, last.Proto(), childIP, last.Int()),
			fmt.Sprintf("%s_PORT_END=%d", prefix, last.Int()))
	}
	var first, last nat.Port
	for i, p := range sorted {
		prefix := fmt.Sprintf("%s_PORT_%d_%s", alias, p.Int(), strings.ToUpper(p.Proto()))
		env = append(env,
			fmt.Sprintf("%s=%s://%s:%d", prefix, p.Proto(), childIP, p.Int()),
			fmt.Sprintf("%s_ADDR=%s", prefix, childIP),
			fmt.Sprintf("%s_PORT=%d", prefix, p.Int()),
			fmt.Sprintf("%s_PROTO=%s", prefix, p.Proto()))
		switch {
		case i == 0:
			first, last = p, p
		case p.Int() == last.Int()+1 && strings.EqualFold(p.Proto(), last.Proto()):
			last = p
		default:
			rangeVars(first, last)
			first, last = p, p
		}
	}
	if len(sorted) > 0 {
		rangeVars(first, last)
	}
	env = append(env, fmt.Sprintf("%s_NAME=%s", alias, linkName))
	for _, kv := range childEnv {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "HOME" || k == "PATH" {
			continue
		}
		env = append(env, fmt.Sprintf("%s_ENV_%s=%s", alias, k, v))
	}
	return env
}
