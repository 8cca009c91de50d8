package runtime

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"

	"github.com/berth-project/berth/internal/errdefs"
)

// PruneReport says what Prune removed, as Docker's ContainersPruneReport does.
type PruneReport struct {
	ContainersDeleted []string
	SpaceReclaimed    uint64
}

// pruneFilterKeys are the filters `docker container prune` accepts.
var pruneFilterKeys = map[string]bool{"until": true, "label": true, "label!": true}

// Prune removes every stopped container (created, exited or dead) that passes the filters:
// until=<timestamp|duration> keeps containers created after that time, label=k[=v] and
// label!=k[=v] select by label. The space reclaimed is the size of the removed writable layers.
func (r *Runtime) Prune(f filters.Args, now time.Time) (PruneReport, error) {
	var rep PruneReport
	for _, k := range f.Keys() {
		if !pruneFilterKeys[k] {
			return rep, errdefs.Invalid(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	var until time.Time
	for _, v := range f.Get("until") {
		t, err := ParseTimestamp(v, now)
		if err != nil {
			return rep, err
		}
		until = t
	}
	all, err := r.List()
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, c := range all {
		if c.IsRunning() || c.State.Status == StatusRemoving {
			continue
		}
		if !until.IsZero() && !c.Created.Before(until) {
			continue
		}
		labels := c.Labels()
		if !f.MatchKVList("label", labels) {
			continue
		}
		if f.Contains("label!") && len(f.Get("label!")) > 0 && matchAnyLabel(f.Get("label!"), labels) {
			continue
		}
		size, _ := r.SizeRw(c.ID)
		if err := r.Remove(c.ID, RemoveOptions{}); err != nil {
			if errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrNotFound) {
				continue // started or removed meanwhile
			}
			errs = append(errs, err)
			continue
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, errors.Join(errs...)
}

// matchAnyLabel tells whether one of the "key" or "key=value" terms matches labels.
func matchAnyLabel(terms []string, labels map[string]string) bool {
	for _, t := range terms {
		k, v, hasValue := strings.Cut(t, "=")
		lv, ok := labels[k]
		if ok && (!hasValue || lv == v) {
			return true
		}
	}
	return false
}

// ParseTimestamp reads a Docker filter/--since timestamp relative to now: a Go duration
// ("10m", "24h": that long ago), Unix seconds with optional fraction, or an RFC 3339 date or
// date-time (local time when no zone is given).
func ParseTimestamp(value string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(value); err == nil && value != "0" {
		return now.Add(-d), nil
	}
	if f, err := strconv.ParseFloat(value, 64); err == nil && !strings.ContainsAny(value, "eE") {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	for _, layout := range []string{
		time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999",
		"2006-01-02T15:04", "2006-01-02T15", "2006-01-02 15:04:05", "2006-01-02",
	} {
		var t time.Time
		var err error
		if strings.Contains(layout, "Z07") {
			t, err = time.Parse(layout, value)
		} else {
			t, err = time.ParseInLocation(layout, value, time.Local)
		}
		if err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.Invalid(fmt.Sprintf("failed to parse value as time or duration: %q", value))
}
