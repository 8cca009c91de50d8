package events

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	timetypes "github.com/docker/docker/api/types/time"
)

// ParseTime reads a --since or --until value as docker/cli and Docker's daemon read it: a
// duration before now ("10m", "1h30m"), an RFC 3339 date or time with or without nanoseconds
// and zone (local time without one), or a Unix timestamp with an optional fraction. It also
// returns the timestamp docker/cli sends to the daemon ("1700000000.000000000"), which Docker's
// errors quote. Errors are worded as docker/cli words them.
func ParseTime(value string, now time.Time) (time.Time, string, error) {
	ts, err := timetypes.GetTimestamp(value, now)
	if err != nil {
		return time.Time{}, "", err
	}
	sec, nsec, err := timetypes.ParseTimestamps(ts, 0)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("failed to parse value as time or duration: %q", value)
	}
	return time.Unix(sec, nsec), ts, nil
}

// rfc3339NanoFixed is docker/cli's time layout for events: nanoseconds always nine digits.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// WriteLine writes m as `docker events` prints an event without --format: the time in the local
// zone, type, action, actor ID and the attributes sorted by key:
//
//	2026-11-27T10:30:01.123456789Z container start 3f4e… (image=busybox, name=web)
func WriteLine(w io.Writer, m *Message) error {
	var b strings.Builder
	if m.TimeNano != 0 {
		b.WriteString(time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed))
		b.WriteByte(' ')
	} else if m.Time != 0 {
		b.WriteString(time.Unix(m.Time, 0).Format(rfc3339NanoFixed))
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + "=" + m.Actor.Attributes[k])
		}
		b.WriteByte(')')
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
