package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/errdefs"
)

// DefaultSearchLimit is how many results `search` asks for without --limit, as Docker.
const DefaultSearchLimit = 25

// hubSearchIndex is Docker Hub's v1 index, which serves the search API.
const hubSearchIndex = "https://index.docker.io/v1/"

// searchTimeout bounds a search, ping included.
const searchTimeout = 60 * time.Second

// SearchResult is one repository as a registry's v1 search API describes it.
type SearchResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	StarCount   int    `json:"star_count"`
	IsOfficial  bool   `json:"is_official"`
	// IsAutomated is deprecated on Docker Hub: always false in results, as Docker reports it.
	IsAutomated bool `json:"is_automated"`
}

// SearchOptions tune Search.
type SearchOptions struct {
	// Limit is the most results to ask the registry for: 1 to 100, 0 for DefaultSearchLimit.
	Limit int
	// Filters are Docker's --filter values, parsed: "stars=N", "is-official=true|false",
	// "is-automated=true|false" (deprecated: true yields no results).
	Filters map[string][]string
}

// ParseSearchFilter adds one --filter value ("name=value") to filters, as docker/cli reads it
// (name lower-cased, both sides trimmed). Names and values are checked by Search.
func ParseSearchFilter(filters map[string][]string, arg string) error {
	if arg == "" {
		return nil
	}
	k, v, ok := strings.Cut(arg, "=")
	if !ok {
		return errdefs.Invalid("bad format of filter (expected name=value)")
	}
	k = strings.ToLower(strings.TrimSpace(k))
	filters[k] = append(filters[k], strings.TrimSpace(v))
	return nil
}

// searchFilter is SearchOptions.Filters checked.
type searchFilter struct {
	automated bool  // is-automated=true: no result can match
	official  *bool // is-official
	stars     int   // stars: at least this many (the largest value given)
}

// parseSearchFilters checks filters as Docker's daemon does, with its wording.
func parseSearchFilters(filters map[string][]string) (searchFilter, error) {
	var f searchFilter
	for _, k := range searchFilterKeys(filters) {
		switch k {
		case "is-automated", "is-official", "stars":
		default:
			return f, errdefs.Invalid(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	boolFilter := func(k string) (*bool, error) {
		vals, ok := filters[k]
		if !ok {
			return nil, nil
		}
		isTrue, isFalse := false, false
		for _, v := range vals {
			isTrue = isTrue || v == "true" || v == "1"
			isFalse = isFalse || v == "false" || v == "0"
		}
		if isTrue == isFalse {
			return nil, errdefs.Invalid(fmt.Sprintf("invalid filter '%s=%s'", k, strings.Join(vals, ",")))
		}
		return &isTrue, nil
	}
	automated, err := boolFilter("is-automated")
	if err != nil {
		return f, err
	}
	f.automated = automated != nil && *automated
	if f.official, err = boolFilter("is-official"); err != nil {
		return f, err
	}
	for _, v := range filters["stars"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			return f, errdefs.Invalid(fmt.Sprintf("invalid filter 'stars=%s': %v", v, err))
		}
		f.stars = max(f.stars, n)
	}
	return f, nil
}

func searchFilterKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SplitSearchTerm splits a search term into the registry it names ("docker.io" unless its first
// path element looks like a host: has a "." or ":", or is "localhost") and the query sent there.
func SplitSearchTerm(term string) (index, query string) {
	first, rest, ok := strings.Cut(term, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return dockerHub, term
	}
	return first, rest
}

// Search asks a registry's v1 search API (GET /v1/search?q=QUERY&n=LIMIT) for term, as Docker's
// daemon does: Docker Hub (index.docker.io) unless the term starts with a registry host
// ("127.0.0.1:5000/app"), which insecureRegistry lets reach over plain HTTP. Stored credentials for
// the registry are sent. The results are filtered by opts.Filters, in the registry's order.
func Search(ctx context.Context, term string, opts SearchOptions) ([]SearchResult, error) {
	f, err := parseSearchFilters(opts.Filters)
	if err != nil {
		return nil, err
	}
	if f.automated {
		return []SearchResult{}, nil
	}
	if strings.HasPrefix(term, "http://") || strings.HasPrefix(term, "https://") {
		return nil, errdefs.Invalid(fmt.Sprintf("invalid repository name: repository name (%s) should not have a scheme", term))
	}
	index, query := SplitSearchTerm(term)
	if index == dockerHubIndex {
		index = dockerHub
	}
	ctx, cancel := context.WithTimeout(ctx, searchTimeout)
	defer cancel()
	client := &http.Client{Transport: httpTransport}
	key := RegistryKey(index)
	endpoint := hubSearchIndex
	if index == dockerHub {
		query = strings.TrimPrefix(query, officialRepo)
	} else if endpoint, err = v1Endpoint(ctx, client, index); err != nil {
		return nil, err
	}
	limit := opts.Limit
	if limit == 0 {
		limit = DefaultSearchLimit
	}
	if limit < 1 || limit > 100 {
		return nil, errdefs.Invalid(fmt.Sprintf("limit %d is outside the range of [1, 100]", limit))
	}
	u := endpoint + "search?q=" + url.QueryEscape(query) + "&n=" + strconv.Itoa(limit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("error building request: %w", err)
	}
	req.Header.Set("X-Docker-Token", "true")
	if creds, err := StoredCredentials(key); err == nil && creds.Username != "" {
		req.SetBasicAuth(creds.Username, creds.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Unexpected status code %d", resp.StatusCode)
	}
	var page struct {
		Results []SearchResult `json:"results"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&page); err != nil {
		return nil, fmt.Errorf("error decoding search results: %w", err)
	}
	out := []SearchResult{}
	for _, r := range page.Results {
		if f.official != nil && r.IsOfficial != *f.official {
			continue
		}
		if r.StarCount < f.stars {
			continue
		}
		r.IsAutomated = false
		out = append(out, r)
	}
	return out, nil
}

// v1Endpoint finds how to reach a registry's v1 API, as Docker's daemon does: GET /v1/_ping over
// HTTPS, then over plain HTTP when insecureRegistry allows it. Any HTTP answer will do.
func v1Endpoint(ctx context.Context, client *http.Client, host string) (string, error) {
	insecure, err := insecureRegistry(host)
	if err != nil {
		return "", err
	}
	httpsErr := v1Ping(ctx, client, "https://"+host+"/v1/")
	if httpsErr == nil {
		return "https://" + host + "/v1/", nil
	}
	if !insecure {
		return "", errdefs.Invalid(fmt.Sprintf("invalid registry endpoint https://%s/v1/: %v. If this private registry supports only HTTP or HTTPS with an unknown CA certificate, add %q to \"insecure-registries\" in %s",
			host, httpsErr, host, registriesConfigPath()))
	}
	httpErr := v1Ping(ctx, client, "http://"+host+"/v1/")
	if httpErr == nil {
		return "http://" + host + "/v1/", nil
	}
	return "", errdefs.Invalid(fmt.Sprintf("invalid registry endpoint %q. HTTPS attempt: %v. HTTP attempt: %v", "http://"+host+"/v1/", httpsErr, httpErr))
}

func v1Ping(ctx context.Context, client *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil
}

// registriesConfigPath is the registries.json that insecureRegistry reads.
func registriesConfigPath() string {
	if p := os.Getenv("BERTH_REGISTRIES_CONFIG"); p != "" {
		return p
	}
	return RegistriesConfig
}
