package image

import (
	"github.com/berth-project/berth/internal/events"
	dockerevents "github.com/docker/docker/api/types/events"
	imagetypes "github.com/docker/docker/api/types/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// imageEvent records an image event in the journal of s.EventsRunRoot with Docker's
// attributes: the image's labels (cfg may be nil) and name.
func (s *Store) imageEvent(action, id, name string, cfg *v1.ConfigFile) {
	attrs := map[string]string{}
	if cfg != nil {
		for k, v := range cfg.Config.Labels {
			attrs[k] = v
		}
	}
	if name != "" {
		attrs["name"] = name
	}
	events.Record(s.EventsRunRoot, events.Image, dockerevents.Action(action), id, attrs)
}

// refEvent records a pull or push of ref as Docker's daemon does: the actor is the reference
// ("busybox:latest"), its name the repository ("busybox").
func (s *Store) refEvent(action, ref string, img *Image) {
	r, err := ParseReference(ref)
	if err != nil || img == nil {
		return
	}
	s.imageEvent(action, familiar(r), familiarRepo(r.Context()), img.Config)
}

// idEvent records an event on the image img by its ID (save, load, import).
func (s *Store) idEvent(action string, img *Image) {
	if img != nil {
		s.imageEvent(action, img.ID, img.ID, img.Config)
	}
}

// removeEvents records what an rmi or prune did to the image id: "untag" for each reference
// removed, then "delete" if the image itself went, as Docker's daemon does.
func (s *Store) removeEvents(id string, cfg *v1.ConfigFile, out []imagetypes.DeleteResponse) {
	for _, d := range out {
		switch {
		case d.Untagged != "":
			s.imageEvent("untag", id, id, cfg)
		case d.Deleted == id:
			s.imageEvent("delete", id, id, nil)
		}
	}
}

// pruneEvents records the removal of the pruned image r: "untag" for each of its references,
// then "delete".
func (s *Store) pruneEvents(r *record) {
	for range len(r.RepoTags) + len(r.RepoDigests) {
		s.imageEvent("untag", r.ID, r.ID, nil)
	}
	s.imageEvent("delete", r.ID, r.ID, nil)
}
