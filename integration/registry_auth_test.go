package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/integration/harness"
)

// authUser and authPassword log in to the registries of NewAuthRegistry(authHtpasswd). The hash
// is bcrypt (cost 5), the only kind distribution reads.
const (
	authUser     = "berthuser"
	authPassword = "s3cret-pass"
	authHtpasswd = "berthuser:$2b$05$aK7hZ.ZJls/yn3WOLkeAHu1fF.d72rEgBBchXRrKP6cxVJ67prypi\n"
)

const unencryptedNote = "Configure a credential helper to remove this warning. See"

// dockerConfig points env's commands at a Docker client config folder of the test's own.
func dockerConfig(t *testing.T, env *harness.Env) string {
	dir := t.TempDir()
	env.Setenv("DOCKER_CONFIG", dir)
	return filepath.Join(dir, "config.json")
}

// TestLoginPushPull logs in to a registry behind Basic auth, pushes and pulls through it, and
// logs out, with the failures around each step.
func TestLoginPushPull(t *testing.T) {
	env := harness.New(t)
	cfg := dockerConfig(t, env)
	srv := harness.NewAuthRegistry(t, authHtpasswd)
	ref := srv.Addr + "/busybox:v1"
	env.MustRun("tag", env.Pull("busybox"), ref)

	// Not logged in: the registry's refusal, as docker prints it.
	res := env.MustFail("push", ref)
	oneLineError(t, res, 1, "no basic auth credentials")
	if !strings.Contains(res.Stdout, "The push refers to repository ["+srv.Addr+"/busybox]") {
		t.Errorf("push without login:\n%s", res)
	}

	// Other content of config.json survives every change.
	orig := `{"auths":{"other.example:5000":{"auth":"b3RoZXI6cHc="}},"psFormat":"table {{.ID}}","x-tool":{"keep":true}}`
	if err := os.WriteFile(cfg, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}

	// A wrong password: Docker's one-liner, config.json untouched.
	res = env.MustFail("login", "-u", authUser, "-p", "wrong", srv.Addr)
	want := "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n" +
		"Error response from daemon: login attempt to http://" + srv.Addr + "/v2/ failed with status: 401 Unauthorized\n"
	if res.Code != 1 || res.Stderr != want || res.Stdout != "" {
		t.Errorf("login with a wrong password:\n%s", res)
	}
	if got := readFile(t, cfg); got != orig {
		t.Errorf("config.json changed by a failed login:\n%s", got)
	}

	// --password-stdin: saved as Docker saves it.
	res = env.RunWithStdin(strings.NewReader(authPassword+"\n"), "login", "--username", authUser, "--password-stdin", srv.Addr)
	if res.Code != 0 || res.Stdout != "Login Succeeded\n" ||
		!strings.Contains(res.Stderr, "WARNING! Your credentials are stored unencrypted in '"+cfg+"'.") ||
		!strings.Contains(res.Stderr, unencryptedNote) {
		t.Errorf("login --password-stdin:\n%s", res)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode: %v, %v (want 0600)", fi.Mode(), err)
	}
	auths := readAuths(t, cfg)
	if got := auths[srv.Addr]["auth"]; got != base64.StdEncoding.EncodeToString([]byte(authUser+":"+authPassword)) {
		t.Errorf("stored auth = %q", got)
	}
	if auths["other.example:5000"]["auth"] != "b3RoZXI6cHc=" || !strings.Contains(readFile(t, cfg), `"psFormat": "table {{.ID}}"`) ||
		!strings.Contains(readFile(t, cfg), `"x-tool"`) {
		t.Errorf("login lost config.json's other content:\n%s", readFile(t, cfg))
	}

	// Logged in: push, and pull into another store with the same client config.
	out := env.MustRun("push", ref)
	if !strings.Contains(out, ": Pushed") || !strings.Contains(out, "v1: digest: sha256:") {
		t.Errorf("push after login:\n%s", out)
	}
	other := harness.New(t)
	other.Setenv("DOCKER_CONFIG", filepath.Dir(cfg))
	other.MustRun("pull", "-q", ref)

	// -p with the same credentials: the CLI warning, no rewrite of the file (no storage warning).
	res = env.Run("login", "-u", authUser, "-p", authPassword, srv.Addr)
	if res.Code != 0 || res.Stdout != "Login Succeeded\n" ||
		res.Stderr != "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n" {
		t.Errorf("login -p:\n%s", res)
	}
	// No credentials given: the stored ones are tried first.
	res = env.RunWithStdin(strings.NewReader(""), "login", "http://"+srv.Addr+"/")
	if res.Code != 0 || res.Stdout != "Login Succeeded\n" ||
		!strings.HasPrefix(res.Stderr, "Authenticating with existing credentials... [Username: "+authUser+"]\n") {
		t.Errorf("login with stored credentials:\n%s", res)
	}

	// Logout removes the entry (and only it); the next pull is refused again.
	res = env.Run("logout", srv.Addr)
	if res.Code != 0 || res.Stdout != "Removing login credentials for "+srv.Addr+"\n" || res.Stderr != "" {
		t.Errorf("logout:\n%s", res)
	}
	auths = readAuths(t, cfg)
	if _, ok := auths[srv.Addr]; ok || auths["other.example:5000"] == nil {
		t.Errorf("after logout:\n%s", readFile(t, cfg))
	}
	third := harness.New(t)
	third.Setenv("DOCKER_CONFIG", filepath.Dir(cfg))
	oneLineError(t, third.MustFail("pull", ref), 1,
		`Error response from daemon: Head "http://`+srv.Addr+`/v2/busybox/manifests/v1": no basic auth credentials`)
	// Logging out twice is not an error.
	if res := env.Run("logout", srv.Addr); res.Code != 0 || res.Stdout != "Removing login credentials for "+srv.Addr+"\n" {
		t.Errorf("second logout:\n%s", res)
	}

	// Stored credentials the registry refuses: push says so as docker does.
	bad := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, srv.Addr, base64.StdEncoding.EncodeToString([]byte(authUser+":nope")))
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	oneLineError(t, env.MustFail("push", ref), 1, "unauthorized: authentication required")
	res = env.RunWithStdin(strings.NewReader(""), "login", srv.Addr)
	if res.Code != 1 || !strings.Contains(res.Stderr, "Login did not succeed, error: Error response from daemon: login attempt to http://"+srv.Addr+"/v2/ failed with status: 401 Unauthorized\n") ||
		!strings.HasSuffix(res.Stderr, "\nerror: cannot perform an interactive login from a non-TTY device\n") {
		t.Errorf("login with refused stored credentials and no terminal:\n%s", res)
	}
	if got := readFile(t, cfg); got != bad {
		t.Errorf("config.json changed by a failed login:\n%s", got)
	}
}

// TestLoginInteractive types the user name and password at the prompts on a terminal.
func TestLoginInteractive(t *testing.T) {
	env := harness.New(t)
	cfg := dockerConfig(t, env)
	srv := harness.NewAuthRegistry(t, authHtpasswd)

	p := env.StartPTY("login", srv.Addr)
	if !p.WaitOutput("Username: ", 10*time.Second) {
		t.Fatalf("no username prompt: %q", p.Output())
	}
	p.Write(authUser + "\n")
	if !p.WaitOutput("Password: ", 10*time.Second) {
		t.Fatalf("no password prompt: %q", p.Output())
	}
	p.Write(authPassword + "\n")
	res := p.Wait(20 * time.Second)
	if res.Code != 0 || !strings.Contains(res.Stdout, "Login Succeeded") || strings.Contains(res.Stdout, authPassword) {
		t.Errorf("interactive login (the password must not echo):\n%q", res.Stdout)
	}
	if got := readAuths(t, cfg)[srv.Addr]["auth"]; got != base64.StdEncoding.EncodeToString([]byte(authUser+":"+authPassword)) {
		t.Errorf("stored auth = %q", got)
	}

	// -u given: only the password is asked for; a wrong one fails after the prompt.
	p = env.StartPTY("login", "-u", authUser, srv.Addr)
	if !p.WaitOutput("Password: ", 10*time.Second) {
		t.Fatalf("no password prompt: %q", p.Output())
	}
	p.Write("wrong\n")
	res = p.Wait(20 * time.Second)
	if res.Code != 1 || strings.Contains(res.Stdout, "Username") ||
		!strings.Contains(res.Stdout, "login attempt to http://"+srv.Addr+"/v2/ failed with status: 401 Unauthorized") {
		t.Errorf("interactive login with a wrong password:\n%q", res.Stdout)
	}
}

// TestLoginErrors checks the argument errors of login and a registry that is not there.
func TestLoginErrors(t *testing.T) {
	env := harness.New(t)
	cfg := dockerConfig(t, env)
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"login", "--password-stdin", "127.0.0.1:5"}, "the --password-stdin option requires --username to be set"},
		{"", []string{"login", "-p", "x", "--password-stdin", "-u", "u", "127.0.0.1:5"}, "conflicting options: cannot specify both --password and --password-stdin"},
		{"", []string{"login", "-u", "", "-p", "x", "127.0.0.1:5"}, "username is empty"},
		{"", []string{"login", "-u", "u", "-p", "", "127.0.0.1:5"}, "password is empty"},
		{"\n", []string{"login", "-u", "u", "--password-stdin", "127.0.0.1:5"}, "password is empty"},
		{"", []string{"login", "-u", "u", "127.0.0.1:5"}, "error: cannot perform an interactive login from a non-TTY device"},
		{"", []string{"login"}, "error: cannot perform an interactive login from a non-TTY device"},
		{"pw", []string{"login", "-u", "u", "--password-stdin", "127.0.0.1:1"},
			`Error response from daemon: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`},
	} {
		res := env.RunWithStdin(strings.NewReader(tc.stdin), tc.args...)
		oneLineError(t, res, 1, tc.want)
	}
	if res := env.Run("login", "a", "b"); res.Code == 0 || !strings.Contains(res.Stderr, `"berth login" requires at most 1 argument`) {
		t.Errorf("login a b:\n%s", res)
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Errorf("failed logins wrote %s: %v", cfg, err)
	}
	// Docker Hub is the default server of logout.
	if res := env.Run("logout"); res.Code != 0 || res.Stdout != "Removing login credentials for https://index.docker.io/v1/\n" {
		t.Errorf("logout:\n%s", res)
	}
}

// searchFixture is what Docker Hub answered the seed's `docker search mysql`.
var searchFixture = []map[string]any{
	{"name": "mysql", "description": "MySQL is a widely used, open-source relational database management system (RDBMS).", "star_count": 11789, "is_official": true},
	{"name": "mariadb", "description": "MariaDB Server is a high performing open source relational database, forked from MySQL.", "star_count": 4488, "is_official": true},
	{"name": "mysql/mysql-server", "description": "Optimized MySQL Server Docker images. Created, maintained and supported by the MySQL team at Oracle", "star_count": 882, "is_official": false, "is_automated": true},
	{"name": "percona", "description": "Percona Server is a fork of the MySQL relational database management system created by Percona.", "star_count": 579, "is_official": true},
	{"name": "bitnami/mysql", "description": "Bitnami MySQL Docker Image", "star_count": 52, "is_official": false, "is_automated": true},
}

// searchServer serves the v1 search API on 127.0.0.1 with searchFixture (the first n results) and
// records the last query and Authorization header.
type searchServer struct {
	*httptest.Server
	mu               sync.Mutex
	query, n, authOK string
}

func newSearchServer(t *testing.T) *searchServer {
	s := &searchServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/_ping":
			w.Write([]byte("true"))
		case "/v1/search":
			q := r.URL.Query()
			s.mu.Lock()
			s.query, s.n = q.Get("q"), q.Get("n")
			u, p, _ := r.BasicAuth()
			s.authOK = u + ":" + p
			s.mu.Unlock()
			if q.Get("q") == "broken" {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			n, _ := strconv.Atoi(q.Get("n"))
			results := searchFixture[:min(n, len(searchFixture))]
			json.NewEncoder(w).Encode(map[string]any{"query": q.Get("q"), "num_results": len(results), "results": results})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *searchServer) last() (query, n, auth string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.query, s.n, s.authOK
}

// TestSearch runs the seed's searches against a v1 search API served on the loopback.
func TestSearch(t *testing.T) {
	env := harness.New(t)
	cfg := dockerConfig(t, env)
	srv := newSearchServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	term := host + "/mysql"
	row := func(name, desc, stars, official string) string {
		return strings.TrimRight(fmt.Sprintf("%-21s%-48s%-10s%s", name, desc, stars, official), " ")
	}
	header := row("NAME", "DESCRIPTION", "STARS", "OFFICIAL")
	trimmed := func(out string) []string {
		var l []string
		for _, s := range lines(out) {
			l = append(l, strings.TrimRight(s, " "))
		}
		return l
	}

	out := env.MustRun("search", term)
	want := []string{header,
		row("mysql", "MySQL is a widely used, open-source relation…", "11789", "[OK]"),
		row("mariadb", "MariaDB Server is a high performing open sou…", "4488", "[OK]"),
		row("mysql/mysql-server", "Optimized MySQL Server Docker images. Create…", "882", ""),
		row("percona", "Percona Server is a fork of the MySQL relati…", "579", "[OK]"),
		row("bitnami/mysql", "Bitnami MySQL Docker Image", "52", ""),
	}
	if got := trimmed(out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("search %s:\n%s\nwant:\n%s", term, out, strings.Join(want, "\n"))
	}
	if q, n, auth := srv.last(); q != "mysql" || n != "25" || auth != ":" {
		t.Errorf("request: q=%q n=%q auth=%q; want mysql, 25, none", q, n, auth)
	}

	// The seed's --filter=stars=5000, and the other filters.
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--filter=stars=5000"}, []string{"mysql"}},
		{[]string{"-f", "stars=500", "-f", "is-official=true"}, []string{"mysql", "mariadb", "percona"}},
		{[]string{"--filter", "is-official=false"}, []string{"mysql/mysql-server", "bitnami/mysql"}},
		{[]string{"--limit", "2"}, []string{"mysql", "mariadb"}},
		{[]string{"--limit", "2", "--filter", "stars=1000"}, []string{"mysql", "mariadb"}},
	} {
		out := env.MustRun(append(append([]string{"search"}, tc.args...), term)...)
		l := trimmed(out)
		var names []string
		for _, r := range l[1:] {
			names = append(names, strings.Fields(r)[0])
		}
		if strings.Join(strings.Fields(l[0]), " ") != "NAME DESCRIPTION STARS OFFICIAL" || strings.Join(names, ",") != strings.Join(tc.want, ",") {
			t.Errorf("search %v: %v, want %v\n%s", tc.args, names, tc.want, out)
		}
	}
	if _, n, _ := srv.last(); n != "2" {
		t.Errorf("--limit 2 asked for n=%s", n)
	}
	res := env.Run("search", "--filter", "is-automated=true", term)
	if res.Code != 0 || strings.TrimRight(res.Stdout, " \n") != "NAME      DESCRIPTION   STARS     OFFICIAL" ||
		res.Stderr != `WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" will not yield any results in future.`+"\n" {
		t.Errorf("is-automated=true:\n%s", res)
	}

	// --no-trunc and --format.
	out = env.MustRun("search", "--no-trunc", "--limit", "1", term)
	if l := trimmed(out); len(l) != 2 || !strings.HasSuffix(l[1], "management system (RDBMS).   11789     [OK]") {
		t.Errorf("--no-trunc:\n%s", out)
	}
	out = env.MustRun("search", "--format", "{{.Name}}: {{.StarCount}} {{.IsOfficial}}", "--limit", "3", term)
	if out != "mysql: 11789 [OK]\nmariadb: 4488 [OK]\nmysql/mysql-server: 882 \n" {
		t.Errorf("--format template:\n%q", out)
	}
	out = env.MustRun("search", "--format", "table {{.Name}}\t{{.StarCount}}", "--limit", "1", term)
	if l := trimmed(out); strings.Join(l, "|") != "NAME      STARS|mysql     11789" {
		t.Errorf("--format table:\n%q", out)
	}
	out = env.MustRun("search", "--format", "json", "--limit", "1", term)
	var js map[string]string
	if err := json.Unmarshal([]byte(out), &js); err != nil || js["Name"] != "mysql" || js["IsOfficial"] != "true" ||
		js["StarCount"] != "11789" || js["Description"] != "MySQL is a widely used, open-source relation…" {
		t.Errorf("--format json: %v\n%s", err, out)
	}

	// Bad input: one line, Docker's wording and exit codes.
	oneLineError(t, env.MustFail("search", "--limit", "101", term), 1, "Error response from daemon: limit 101 is outside the range of [1, 100]")
	oneLineError(t, env.MustFail("search", "--limit", "-1", term), 1, "Error response from daemon: limit -1 is outside the range of [1, 100]")
	oneLineError(t, env.MustFail("search", "--filter", "foo=bar", term), 1, "Error response from daemon: invalid filter 'foo'")
	oneLineError(t, env.MustFail("search", "--filter", "stars=many", term), 1, `Error response from daemon: invalid filter 'stars=many': strconv.Atoi: parsing "many": invalid syntax`)
	oneLineError(t, env.MustFail("search", "--filter", "is-official=maybe", term), 1, "Error response from daemon: invalid filter 'is-official=maybe'")
	oneLineError(t, env.MustFail("search", host+"/broken"), 1, "Error response from daemon: Unexpected status code 500")
	oneLineError(t, env.MustFail("search", "--format", "{{.Nope}}", term), 1, "template parsing error:")
	res = env.MustFail("search", "--filter", "nonsense", term)
	if res.Code != 125 || !strings.Contains(res.Stderr, `invalid argument "nonsense" for "-f, --filter" flag: bad format of filter (expected name=value)`) {
		t.Errorf("--filter nonsense:\n%s", res)
	}
	if res := env.MustFail("search", "--limit", "x", term); res.Code != 125 {
		t.Errorf("--limit x:\n%s", res)
	}
	if res := env.MustFail("search"); res.Code == 0 || !strings.Contains(res.Stderr, `"berth search" requires exactly 1 argument`) {
		t.Errorf("search without a term:\n%s", res)
	}
	res = env.MustFail("search", "127.0.0.1:1/mysql")
	oneLineError(t, res, 1, `Error response from daemon: invalid registry endpoint "http://127.0.0.1:1/v1/". HTTPS attempt: Get "https://127.0.0.1:1/v1/_ping": dial tcp 127.0.0.1:1: connect: connection refused. HTTP attempt: Get "http://127.0.0.1:1/v1/_ping"`)

	// Logged in to the registry: search sends the credentials.
	auth := base64.StdEncoding.EncodeToString([]byte("searcher:pw"))
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	env.MustRun("search", term)
	if _, _, got := srv.last(); got != "searcher:pw" {
		t.Errorf("search sent credentials %q, want searcher:pw", got)
	}
	if !bytes.Contains([]byte(readFile(t, cfg)), []byte(auth)) {
		t.Error("search changed config.json")
	}
}

// readAuths reads the "auths" of a Docker client config.json.
func readAuths(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	var doc struct {
		Auths map[string]map[string]string `json:"auths"`
	}
	if err := json.Unmarshal([]byte(readFile(t, path)), &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc.Auths
}
