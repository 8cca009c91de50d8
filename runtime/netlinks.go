package runtime

import (
	"sort"

	"github.com/berth-project/berth/network"
	"github.com/docker/docker/api/types/container"
)

// linkEnv returns the environment Docker gives a container for its --link aliases on the default
// bridge (network.LinkEnv for each, by alias): the linked container's address, exposed ports,
// name and environment, read when the container starts.
func linkEnv(l Layout, rec *Record, st *State, s *network.Store) ([]string, error) {
	if rec.HostConfig == nil || len(rec.HostConfig.Links) == 0 || st.Networks[network.ModeBridge] == nil {
		return nil, nil
	}
	links := s.Links(rec.ID)
	if len(links) == 0 {
		return nil, nil
	}
	aliases := make([]string, 0, len(links))
	for alias := range links {
		aliases = append(aliases, alias)
	}
	sort.Strings(aliases)
	r, err := Open(l)
	if err != nil {
		return nil, err
	}
	var env []string
	for _, alias := range aliases {
		c, err := r.Get(links[alias])
		if err != nil {
			return nil, err
		}
		ip := ""
		if ep := c.State.Networks[network.ModeBridge]; ep != nil {
			ip = ep.IPAddress
		}
		if c.Config == nil {
			c.Config = &container.Config{}
		}
		env = append(env, network.LinkEnv("/"+rec.Name+"/"+alias, ip, c.Config.ExposedPorts, c.Config.Env)...)
	}
	return env, nil
}
