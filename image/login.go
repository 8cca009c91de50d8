package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// IndexServer is the key under which `docker login` stores Docker Hub's credentials.
const IndexServer = "https://index.docker.io/v1/"

// hubAPIHost is the host that serves Docker Hub's registry API.
const hubAPIHost = "registry-1.docker.io"

// loginTimeout bounds a whole login check, as the 15 s of Docker's login client.
const loginTimeout = 15 * time.Second

// ErrUnauthorized marks a login that the registry's token service refused for its credentials.
var ErrUnauthorized = errors.New("unauthorized")

// unauthorized is a refusal worded by the registry ("unauthorized: incorrect username or password").
type unauthorized struct{ msg string }

func (e unauthorized) Error() string        { return e.msg }
func (e unauthorized) Is(target error) bool { return target == ErrUnauthorized }

// Credentials are what `login` verifies and stores: a user name and a password or access token.
type Credentials struct {
	Username string
	Password string
}

// RegistryKey returns the config.json key that `login SERVER` and `logout SERVER` use: IndexServer
// for Docker Hub (no server, "docker.io", "index.docker.io", "registry-1.docker.io" or the
// index URL itself), else the server's host[:port] without scheme or path, as Docker's
// ConvertToHostname does ("http://127.0.0.1:5000/v2/" is "127.0.0.1:5000").
func RegistryKey(server string) string {
	if server == "" || server == IndexServer {
		return IndexServer
	}
	host := RegistryHost(server)
	switch strings.ToLower(host) {
	case dockerHub, dockerHubIndex, hubAPIHost:
		return IndexServer
	}
	return host
}

// RegistryHost is server's host[:port], without scheme or path ("https://reg:5000/v2/" is
// "reg:5000"), as docker/cli's ConvertToHostname.
func RegistryHost(server string) string {
	host := server
	if _, rest, ok := strings.Cut(host, "://"); ok {
		host = rest
	}
	host, _, _ = strings.Cut(host, "/")
	return host
}

// apiHost is the host whose /v2/ API a RegistryKey names.
func apiHost(key string) string {
	if key == IndexServer {
		return hubAPIHost
	}
	return key
}

// VerifyLogin checks creds against the registry that key (a RegistryKey) names, as Docker's daemon
// does before `docker login` saves anything: GET /v2/ answers with a challenge, then the same
// request with Basic credentials, or with a token the challenge's realm grants for them, must
// succeed. Registries that insecureRegistry allows are tried over HTTPS, then plain HTTP. The
// errors are worded as Docker's ("login attempt to http://…/v2/ failed with status: 401
// Unauthorized", `Get "https://…/v2/": unauthorized: incorrect username or password`).
func VerifyLogin(ctx context.Context, key string, creds Credentials) error {
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	host := apiHost(key)
	insecure, err := insecureRegistry(host)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: httpTransport}
	endpoint, ch, err := pingV2(ctx, client, host, insecure)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	switch ch.scheme {
	case "":
		return nil // an open registry: /v2/ already answered 200
	case "basic":
		req.SetBasicAuth(creds.Username, creds.Password)
	case "bearer":
		token, err := fetchToken(ctx, client, ch, creds)
		if err != nil {
			return &url.Error{Op: "Get", URL: endpoint, Err: err}
		}
		req.Header.Set("Authorization", "Bearer "+token)
	default:
		return fmt.Errorf("login attempt to %s failed: unsupported authentication scheme %q", endpoint, ch.scheme)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login attempt to %s failed with status: %d %s", endpoint, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return nil
}

// challenge is a registry's WWW-Authenticate answer: its scheme (lower case, "" when /v2/
// answered 200) and parameters (realm, service, ...).
type challenge struct {
	scheme string
	params map[string]string
}

// pingV2 sends GET /v2/ to host over HTTPS, then (insecure registries) over plain HTTP, and
// returns the endpoint that answered and its challenge.
func pingV2(ctx context.Context, client *http.Client, host string, insecure bool) (string, challenge, error) {
	schemes := []string{"https"}
	if insecure {
		schemes = append(schemes, "http")
	}
	var lastErr error
	for _, scheme := range schemes {
		endpoint := scheme + "://" + host + "/v2/"
		ch, err := ping(ctx, client, endpoint)
		if err == nil {
			return endpoint, ch, nil
		}
		lastErr = err
	}
	return "", challenge{}, lastErr
}

func ping(ctx context.Context, client *http.Client, endpoint string) (challenge, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return challenge{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return challenge{}, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return challenge{}, nil
	case http.StatusUnauthorized:
		chs := parseChallenges(resp.Header.Values("WWW-Authenticate"))
		for _, c := range chs {
			if c.scheme == "bearer" {
				return c, nil
			}
		}
		for _, c := range chs {
			if c.scheme == "basic" {
				return c, nil
			}
		}
		if len(chs) > 0 {
			return chs[0], nil
		}
		return challenge{scheme: "basic"}, nil
	}
	return challenge{}, fmt.Errorf("login attempt to %s failed with status: %d %s", endpoint, resp.StatusCode, http.StatusText(resp.StatusCode))
}

// parseChallenges reads WWW-Authenticate headers: `Basic realm="x"`, `Bearer realm="…",service="…"`.
func parseChallenges(headers []string) []challenge {
	var out []challenge
	for _, h := range headers {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		if scheme == "" {
			continue
		}
		c := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
		for rest = strings.TrimSpace(rest); rest != ""; {
			k, v, ok := strings.Cut(rest, "=")
			if !ok {
				break
			}
			k = strings.ToLower(strings.TrimSpace(k))
			v = strings.TrimLeft(v, " ")
			if strings.HasPrefix(v, `"`) {
				var b strings.Builder
				i := 1
				for ; i < len(v) && v[i] != '"'; i++ {
					if v[i] == '\\' && i+1 < len(v) {
						i++
					}
					b.WriteByte(v[i])
				}
				c.params[k] = b.String()
				rest = v[min(i+1, len(v)):]
			} else {
				val, r, _ := strings.Cut(v, ",")
				c.params[k] = strings.TrimSpace(val)
				rest = "," + r
			}
			rest = strings.TrimLeft(rest, ", ")
		}
		out = append(out, c)
	}
	return out
}

// fetchToken asks the challenge's realm for a token with creds, as Docker's login does (offline
// token, client "docker", no scope).
func fetchToken(ctx context.Context, client *http.Client, ch challenge, creds Credentials) (string, error) {
	realm, err := url.Parse(ch.params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") || realm.Host == "" {
		return "", fmt.Errorf("invalid token realm %q", ch.params["realm"])
	}
	q := realm.Query()
	if s := ch.params["service"]; s != "" {
		q.Set("service", s)
	}
	q.Set("offline_token", "true")
	q.Set("client_id", "docker")
	if creds.Username != "" {
		q.Set("account", creds.Username)
	}
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(creds.Username, creds.Password)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read token response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", tokenError(resp, body)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return "", fmt.Errorf("unable to decode token response: %w", err)
	}
	if tok.AccessToken != "" {
		return tok.AccessToken, nil
	}
	if tok.Token == "" {
		return "", errors.New("authorization server did not include a token in the response")
	}
	return tok.Token, nil
}

// tokenError words a refused token request as Docker's registry client does
// ("unauthorized: incorrect username or password").
func tokenError(resp *http.Response, body []byte) error {
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		return fmt.Errorf("received unexpected HTTP status: %s", resp.Status)
	}
	var details struct {
		Details string `json:"details"`
	}
	if json.Unmarshal(body, &details) == nil && details.Details != "" {
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return unauthorized{"unauthorized: " + details.Details}
		case http.StatusTooManyRequests:
			return errors.New("toomanyrequests: " + details.Details)
		}
		return errors.New("unknown: " + details.Details)
	}
	var list struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &list) == nil && len(list.Errors) > 0 {
		var msgs []string
		refused := false
		for _, e := range list.Errors {
			refused = refused || e.Code == "UNAUTHORIZED"
			code := strings.ToLower(strings.ReplaceAll(e.Code, "_", " "))
			msgs = append(msgs, code+": "+e.Message)
		}
		msg := msgs[0]
		if len(msgs) > 1 {
			msg = "errors:\n" + strings.Join(msgs, "\n")
		}
		if refused {
			return unauthorized{msg}
		}
		return errors.New(msg)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return unauthorized{"unauthorized: authentication required"}
	}
	return fmt.Errorf("error parsing HTTP %d response body: %q", resp.StatusCode, strings.TrimSpace(string(body)))
}
