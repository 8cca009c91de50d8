package image

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/storage"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// configExtras are fields of Docker's image config that go-containerregistry's ConfigFile lacks.
type configExtras struct {
	Comment       string `json:"comment"`
	Author        string `json:"author"`
	DockerVersion string `json:"docker_version"`
	Container     string `json:"container"`
}

// Inspect returns Docker's `image inspect` document for img.
func (s *Store) Inspect(img *Image) (*imagetypes.InspectResponse, error) {
	var extras configExtras
	if len(img.RawConfig) > 0 {
		_ = json.Unmarshal(img.RawConfig, &extras)
	}
	resp := &imagetypes.InspectResponse{
		ID:            img.ID,
		RepoTags:      nonNil(img.RepoTags),
		RepoDigests:   nonNil(img.RepoDigests),
		Parent:        img.Parent,
		Comment:       extras.Comment,
		DockerVersion: extras.DockerVersion,
		Author:        extras.Author,
		Size:          img.Size,
		GraphDriver:   storage.DriverData{Name: "overlay2", Data: map[string]string{}},
		RootFS:        imagetypes.RootFS{Type: "layers"},
		Metadata:      imagetypes.Metadata{LastTagTime: img.LastTagTime},
		Config:        &dockerspec.DockerOCIImageConfig{},
	}
	if resp.Comment == "" {
		resp.Comment = img.Comment
	}
	if !img.Created.IsZero() {
		resp.Created = img.Created.UTC().Format(time.RFC3339Nano)
	}
	if cfg := img.Config; cfg != nil {
		resp.Architecture, resp.Variant, resp.Os, resp.OsVersion = cfg.Architecture, cfg.Variant, cfg.OS, cfg.OSVersion
		b, err := json.Marshal(cfg.Config)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", img.ID, err)
		}
		if err := json.Unmarshal(b, resp.Config); err != nil {
			return nil, fmt.Errorf("inspect %s: %w", img.ID, err)
		}
	}
	for _, d := range img.DiffIDs {
		resp.RootFS.Layers = append(resp.RootFS.Layers, d.String())
	}
	if dirs, err := s.LowerDirs(img); err == nil && len(dirs) > 0 {
		resp.GraphDriver.Data["UpperDir"] = dirs[0]
		if len(dirs) > 1 {
			resp.GraphDriver.Data["LowerDir"] = strings.Join(dirs[1:], ":")
		}
	}
	return resp, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// History returns the image's history as Docker's `history` shows it, newest first. The
// newest entry carries the image ID and tags, each entry below it those of the next image down
// the chain of stored parents (built or committed images); the others "<missing>".
func (s *Store) History(img *Image) ([]imagetypes.HistoryResponseItem, error) {
	sizes := make([]int64, len(img.ChainIDs))
	for i, c := range img.ChainIDs {
		l, err := s.storage.Layer(c)
		if err != nil {
			return nil, fmt.Errorf("history %s: %w", img.ID, err)
		}
		sizes[i] = l.Size
	}
	var items []imagetypes.HistoryResponseItem
	var hist []historyEntry
	if img.Config != nil {
		for _, h := range img.Config.History {
			hist = append(hist, historyEntry{created: h.Created.Time, createdBy: h.CreatedBy, comment: h.Comment, empty: h.EmptyLayer})
		}
	}
	if len(hist) == 0 {
		for range img.ChainIDs {
			hist = append(hist, historyEntry{created: img.Created})
		}
	}
	layer := 0
	for _, h := range hist {
		it := imagetypes.HistoryResponseItem{ID: "<missing>", Created: h.created.Unix(), CreatedBy: h.createdBy, Comment: h.comment, Tags: []string{}}
		if h.created.IsZero() {
			it.Created = 0
		}
		if !h.empty && layer < len(sizes) {
			it.Size = sizes[layer]
			layer++
		}
		items = append(items, it)
	}
	for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	if len(items) > 0 {
		items[0].ID = img.ID
		items[0].Tags = nonNil(img.RepoTags)
	}
	if img.Parent == "" {
		return items, nil
	}
	// As Docker: the entries below a built or committed image's own carry, one each, the IDs
	// and tags of its stored parent, grandparent..., as far as that chain goes.
	all, err := s.List()
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", img.ID, err)
	}
	byID := make(map[string]*Image, len(all))
	for _, im := range all {
		byID[im.ID] = im
	}
	for i, cur := 1, byID[img.Parent]; i < len(items) && cur != nil; i, cur = i+1, byID[cur.Parent] {
		items[i].ID = cur.ID
		items[i].Tags = nonNil(cur.RepoTags)
		if cur.Parent == "" {
			break
		}
	}
	return items, nil
}

type historyEntry struct {
	created   time.Time
	createdBy string
	comment   string
	empty     bool
}
