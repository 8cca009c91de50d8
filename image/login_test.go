package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/cli/cli/config"
)

func TestRegistryKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                              IndexServer,
		"docker.io":                     IndexServer,
		"index.docker.io":               IndexServer,
		"registry-1.docker.io":          IndexServer,
		"https://index.docker.io/v1/":   IndexServer,
		"127.0.0.1:5000":                "127.0.0.1:5000",
		"http://127.0.0.1:5000/v2/":     "127.0.0.1:5000",
		"https://reg.example.com/":      "reg.example.com",
		"reg.example.com/some/repo:tag": "reg.example.com",
	} {
		if got := RegistryKey(in); got != want {
			t.Errorf("RegistryKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	t.Parallel()
	got := parseChallenges([]string{
		`Bearer realm="https://auth.docker.io/token",service="registry.docker.io", scope="a,b"`,
		`Basic realm="berth \"test\""`,
		`Basic`,
	})
	if len(got) != 3 {
		t.Fatalf("got %d challenges, want 3: %+v", len(got), got)
	}
	b := got[0]
	if b.scheme != "bearer" || b.params["realm"] != "https://auth.docker.io/token" ||
		b.params["service"] != "registry.docker.io" || b.params["scope"] != "a,b" {
		t.Errorf("bearer challenge = %+v", b)
	}
	if got[1].scheme != "basic" || got[1].params["realm"] != `berth "test"` {
		t.Errorf("basic challenge = %+v", got[1])
	}
	if got[2].scheme != "basic" || len(got[2].params) != 0 {
		t.Errorf("bare challenge = %+v", got[2])
	}
}

func TestTokenError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status       int
		body         string
		want         string
		unauthorized bool
	}{
		{401, `{"details":"incorrect username or password"}`, "unauthorized: incorrect username or password", true},
		{401, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, "unauthorized: authentication required", true},
		{401, `not json`, "unauthorized: authentication required", true},
		{403, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, "denied: requested access to the resource is denied", false},
		{429, `{"details":"slow down"}`, "toomanyrequests: slow down", false},
		{500, ``, "received unexpected HTTP status: 500 Internal Server Error", false},
	} {
		resp := &http.Response{StatusCode: tc.status, Status: strconv.Itoa(tc.status) + " " + http.StatusText(tc.status)}
		err := tokenError(resp, []byte(tc.body))
		if err.Error() != tc.want {
			t.Errorf("tokenError(%d, %s) = %q, want %q", tc.status, tc.body, err, tc.want)
		}
		if errors.Is(err, ErrUnauthorized) != tc.unauthorized {
			t.Errorf("tokenError(%d, %s): errors.Is(ErrUnauthorized) = %v", tc.status, tc.body, !tc.unauthorized)
		}
	}
}

// fakeRegistry serves /v2/ behind Basic auth (scheme "basic") or a bearer token from its own
// /token realm (scheme "bearer"), for user "u" with password "p".
func fakeRegistry(t *testing.T, scheme string) string {
	t.Helper()
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "u" || p != "p" || r.URL.Query().Get("account") != "u" || r.URL.Query().Get("service") != "fake" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"details":"incorrect username or password"}`))
			return
		}
		w.Write([]byte(`{"token":"good-token"}`))
	})
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch scheme {
		case "basic":
			if u, p, ok := r.BasicAuth(); ok && u == "u" && p == "p" {
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
		case "bearer":
			if auth == "Bearer good-token" {
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="fake"`)
		default:
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`))
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestVerifyLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, scheme := range []string{"basic", "bearer", "none"} {
		host := fakeRegistry(t, scheme)
		if err := VerifyLogin(ctx, host, Credentials{"u", "p"}); err != nil {
			t.Errorf("%s: good credentials: %v", scheme, err)
		}
		err := VerifyLogin(ctx, host, Credentials{"u", "wrong"})
		switch scheme {
		case "basic":
			want := "login attempt to http://" + host + "/v2/ failed with status: 401 Unauthorized"
			if err == nil || err.Error() != want {
				t.Errorf("basic: bad password: %v, want %q", err, want)
			}
		case "bearer":
			want := `Get "http://` + host + `/v2/": unauthorized: incorrect username or password`
			if err == nil || err.Error() != want || !errors.Is(err, ErrUnauthorized) {
				t.Errorf("bearer: bad password: %v, want %q", err, want)
			}
		case "none":
			if err != nil {
				t.Errorf("open registry: %v", err)
			}
		}
	}
	// Nothing listening: the plain HTTP attempt's error, as Docker reports a loopback registry.
	err := VerifyLogin(ctx, "127.0.0.1:1", Credentials{"u", "p"})
	if err == nil || !strings.HasPrefix(err.Error(), `Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1:`) {
		t.Errorf("closed port: %v", err)
	}
}

// TestCredentialsFile covers save, update and erase in one config file (config.Dir is global).
func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	config.SetDir(dir)
	path := filepath.Join(dir, "config.json")
	orig := `{"auths":{"other:5000":{"auth":"b3RoZXI6cHc="}},"psFormat":"table {{.ID}}","x-custom":{"keep":[1,2]}}`
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	saved, err := SaveCredentials("127.0.0.1:5000", Credentials{"user", "pa:ss"})
	if err != nil {
		t.Fatal(err)
	}
	if saved.File != path || saved.Helper != "" || !saved.Changed {
		t.Errorf("SaveCredentials = %+v", saved)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.json mode: %v %v", fi.Mode(), err)
	}
	var doc struct {
		Auths    map[string]map[string]string `json:"auths"`
		PsFormat string                       `json:"psFormat"`
		Custom   map[string][]int             `json:"x-custom"`
	}
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Auths["127.0.0.1:5000"]["auth"]; got != base64.StdEncoding.EncodeToString([]byte("user:pa:ss")) {
		t.Errorf("auth = %q", got)
	}
	if doc.Auths["other:5000"]["auth"] != "b3RoZXI6cHc=" || doc.PsFormat != "table {{.ID}}" || len(doc.Custom["keep"]) != 2 {
		t.Errorf("other content lost: %s", data)
	}
	creds, err := StoredCredentials("127.0.0.1:5000")
	if err != nil || creds != (Credentials{"user", "pa:ss"}) {
		t.Errorf("StoredCredentials = %+v, %v", creds, err)
	}
	if saved, err := SaveCredentials("127.0.0.1:5000", Credentials{"user", "pa:ss"}); err != nil || saved.Changed {
		t.Errorf("saving the same credentials again: %+v, %v", saved, err)
	}
	if err := EraseCredentials("127.0.0.1:5000", "http://127.0.0.1:5000", "nothing-here"); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	doc.Auths = nil
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Auths["127.0.0.1:5000"]; ok || doc.Auths["other:5000"] == nil || doc.PsFormat == "" {
		t.Errorf("after erase: %s", data)
	}
	if creds, _ := StoredCredentials("127.0.0.1:5000"); creds.Username != "" {
		t.Errorf("still stored: %+v", creds)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SaveCredentials("x:1", Credentials{"a", "b"}); err == nil {
		t.Error("SaveCredentials over a malformed config.json succeeded")
	}
	if data, _ := os.ReadFile(path); string(data) != "{not json" {
		t.Errorf("malformed config.json was rewritten: %s", data)
	}
}
