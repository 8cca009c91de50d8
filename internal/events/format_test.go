package events

import (
	"bytes"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
)

func TestWriteLine(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.UTC
	ts := time.Date(2026, 11, 27, 10, 30, 1, 123456789, time.UTC)
	for _, c := range []struct {
		m    Message
		want string
	}{
		{Message{Type: Container, Action: "start", Actor: events.Actor{ID: "3f4e", Attributes: map[string]string{"name": "foo", "image": "busybox"}}, TimeNano: ts.UnixNano(), Time: ts.Unix()},
			"2026-11-27T10:30:01.123456789Z container start 3f4e (image=busybox, name=foo)\n"},
		{Message{Type: Network, Action: "create", Actor: events.Actor{ID: "n1"}, Time: ts.Unix()},
			"2026-11-27T10:30:01.000000000Z network create n1\n"},
		{Message{Type: Image, Action: "pull", Actor: events.Actor{ID: "busybox:latest", Attributes: map[string]string{}}},
			"image pull busybox:latest\n"},
		{Message{Type: Container, Action: "exec_create: sh -c true", Actor: events.Actor{ID: "c", Attributes: map[string]string{"execID": "e", "b": "2"}}, TimeNano: ts.Add(-123456789).UnixNano()},
			"2026-11-27T10:30:01.000000000Z container exec_create: sh -c true c (b=2, execID=e)\n"},
	} {
		var b bytes.Buffer
		if err := WriteLine(&b, &c.m); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("got  %q\nwant %q", b.String(), c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 30, 0, 500, time.UTC)
	local := time.FixedZone(now.Zone())
	for _, c := range []struct {
		in      string
		want    time.Time
		wantTS  string
		wantErr string
	}{
		{in: "10m", want: now.Add(-10 * time.Minute).Truncate(time.Second), wantTS: "1795774800"},
		{in: "1h30m", want: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)},
		{in: "-5s", want: time.Date(2026, 11, 27, 10, 30, 5, 0, time.UTC)},
		{in: "2026-11-27T10:30:01Z", want: time.Date(2026, 11, 27, 10, 30, 1, 0, time.UTC), wantTS: "1795775401.000000000"},
		{in: "2026-11-27T10:30:01.25Z", want: time.Date(2026, 11, 27, 10, 30, 1, 250000000, time.UTC)},
		{in: "2026-11-27T10:30:01+02:00", want: time.Date(2026, 11, 27, 8, 30, 1, 0, time.UTC)},
		{in: "2026-11-27T10:30:01", want: time.Date(2026, 11, 27, 10, 30, 1, 0, local)},
		{in: "2026-11-27", want: time.Date(2026, 11, 27, 0, 0, 0, 0, local)},
		{in: "1795775401", want: time.Unix(1795775401, 0), wantTS: "1795775401"},
		{in: "1795775401.5", want: time.Unix(1795775401, 500000000)},
		{in: "0", want: time.Unix(0, 0)},
		{in: "garbage", wantErr: `failed to parse value as time or duration: "garbage"`},
		{in: "2026-13-45", wantErr: `parsing time "2026-13-45": month out of range`},
	} {
		got, ts, err := ParseTime(c.in, now)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%q: error %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !got.Equal(c.want) {
			t.Errorf("%q: %v, want %v", c.in, got, c.want)
		}
		if c.wantTS != "" && ts != c.wantTS {
			t.Errorf("%q: timestamp %q, want %q", c.in, ts, c.wantTS)
		}
	}
}
