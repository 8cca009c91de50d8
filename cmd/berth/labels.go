package main

import (
	"sort"
	"strings"
)

// joinLabels is the Labels column of ps, network ls and volume ls: "k=v,k2=v2", sorted.
func joinLabels(labels map[string]string) string {
	out := make([]string, 0, len(labels))
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
