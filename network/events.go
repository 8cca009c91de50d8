package network

import (
	"github.com/berth-project/berth/internal/events"
	dockerevents "github.com/docker/docker/api/types/events"
)

// event records a network event in the journal of the store's runroot (see internal/events)
// with Docker's attributes: the network's name and driver ("type"), and extra.
func (s *Store) event(n *Network, action string, extra map[string]string) {
	attrs := map[string]string{"name": n.Name, "type": n.Driver}
	for k, v := range extra {
		attrs[k] = v
	}
	events.Record(s.runRoot, events.Network, dockerevents.Action(action), n.ID, attrs)
}
