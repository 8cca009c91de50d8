package image

import (
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChanges(t *testing.T) {
	t.Parallel()
	var cfg v1.Config
	err := ApplyChanges(&cfg, []string{
		`CMD ["sh", "-c", "echo hi"]`,
		`ENTRYPOINT /bin/run --fast`,
		`ENV A=1 B="two words"`,
		`ENV C three four`,
		`EXPOSE 80 53/udp`,
		`WORKDIR /srv`,
		`USER app`,
		`LABEL x=y "z"="w w"`,
		`VOLUME ["/data", "/logs"]`,
		`VOLUME /cache`,
		`STOPSIGNAL SIGINT`,
		`onbuild RUN make`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		Cmd:          []string{"sh", "-c", "echo hi"},
		Entrypoint:   []string{"/bin/sh", "-c", "/bin/run --fast"},
		Env:          []string{"A=1", "B=two words", "C=three four"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
		WorkingDir:   "/srv",
		User:         "app",
		Labels:       map[string]string{"x": "y", "z": "w w"},
		Volumes:      map[string]struct{}{"/data": {}, "/logs": {}, "/cache": {}},
		StopSignal:   "SIGINT",
		OnBuild:      []string{"RUN make"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestApplyChangesBad(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"RUN make", "FROM x", "ENV", "WORKDIR", "LABEL =x", `ENV A="open`, "EXPOSE"} {
		var cfg v1.Config
		if err := ApplyChanges(&cfg, []string{c}); err == nil {
			t.Errorf("ApplyChanges(%q) succeeded", c)
		}
	}
}
