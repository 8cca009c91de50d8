package image

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/errdefs"
)

func TestSplitSearchTerm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ term, index, query string }{
		{"mysql", "docker.io", "mysql"},
		{"library/mysql", "docker.io", "library/mysql"},
		{"mysql/mysql-server", "docker.io", "mysql/mysql-server"},
		{"127.0.0.1:5000/mysql", "127.0.0.1:5000", "mysql"},
		{"localhost/a/b", "localhost", "a/b"},
		{"reg.example.com/x", "reg.example.com", "x"},
	} {
		if index, query := SplitSearchTerm(tc.term); index != tc.index || query != tc.query {
			t.Errorf("SplitSearchTerm(%q) = %q, %q; want %q, %q", tc.term, index, query, tc.index, tc.query)
		}
	}
}

func TestParseSearchFilters(t *testing.T) {
	t.Parallel()
	tr, fa := true, false
	for _, tc := range []struct {
		args    []string
		want    searchFilter
		wantErr string
	}{
		{args: nil},
		{args: []string{"stars=5000"}, want: searchFilter{stars: 5000}},
		{args: []string{"STARS = 3", "stars=10"}, want: searchFilter{stars: 10}},
		{args: []string{"is-official=true"}, want: searchFilter{official: &tr}},
		{args: []string{"is-official=0"}, want: searchFilter{official: &fa}},
		{args: []string{"is-automated=true"}, want: searchFilter{automated: true}},
		{args: []string{"is-automated=false"}},
		{args: []string{"nope"}, wantErr: "bad format of filter (expected name=value)"},
		{args: []string{"name=x"}, wantErr: "invalid filter 'name'"},
		{args: []string{"stars=many"}, wantErr: `invalid filter 'stars=many': strconv.Atoi: parsing "many": invalid syntax`},
		{args: []string{"is-official=maybe"}, wantErr: "invalid filter 'is-official=maybe'"},
		{args: []string{"is-official=true", "is-official=false"}, wantErr: "invalid filter 'is-official=true,false'"},
	} {
		filters := map[string][]string{}
		var err error
		for _, a := range tc.args {
			if err = ParseSearchFilter(filters, a); err != nil {
				break
			}
		}
		var got searchFilter
		if err == nil {
			got, err = parseSearchFilters(filters)
		}
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr || !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got.stars != tc.want.stars || got.automated != tc.want.automated ||
			(got.official == nil) != (tc.want.official == nil) || (got.official != nil && *got.official != *tc.want.official) {
			t.Errorf("%q: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	var gotQuery, gotN string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/_ping":
			return
		case "/v1/search":
			if r.URL.Query().Get("q") == "broken" {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			gotQuery, gotN = r.URL.Query().Get("q"), r.URL.Query().Get("n")
			json.NewEncoder(w).Encode(map[string]any{"results": []SearchResult{
				{Name: "mysql", Description: "MySQL", StarCount: 11789, IsOfficial: true},
				{Name: "mariadb", StarCount: 4488, IsOfficial: true},
				{Name: "mysql/mysql-server", StarCount: 882, IsAutomated: true},
			}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()

	names := func(rs []SearchResult) string {
		var n []string
		for _, r := range rs {
			n = append(n, r.Name)
		}
		return strings.Join(n, ",")
	}
	for _, tc := range []struct {
		filters map[string][]string
		limit   int
		want    string
	}{
		{want: "mysql,mariadb,mysql/mysql-server"},
		{filters: map[string][]string{"stars": {"5000"}}, want: "mysql"},
		{filters: map[string][]string{"is-official": {"false"}}, limit: 3, want: "mysql/mysql-server"},
		{filters: map[string][]string{"is-automated": {"true"}}, want: ""},
	} {
		rs, err := Search(ctx, host+"/mysql", SearchOptions{Limit: tc.limit, Filters: tc.filters})
		if err != nil {
			t.Fatalf("%v: %v", tc.filters, err)
		}
		if names(rs) != tc.want {
			t.Errorf("%v: got %q, want %q", tc.filters, names(rs), tc.want)
		}
		for _, r := range rs {
			if r.IsAutomated {
				t.Errorf("%s: IsAutomated kept", r.Name)
			}
		}
	}
	if gotQuery != "mysql" || gotN != "3" {
		t.Errorf("last request: q=%q n=%q", gotQuery, gotN)
	}
	for limit, want := range map[int]string{101: "limit 101 is outside the range of [1, 100]", -1: "limit -1 is outside the range of [1, 100]"} {
		if _, err := Search(ctx, host+"/mysql", SearchOptions{Limit: limit}); err == nil || err.Error() != want {
			t.Errorf("limit %d: %v, want %q", limit, err, want)
		}
	}
	if _, err := Search(ctx, host+"/broken", SearchOptions{}); err == nil || err.Error() != "Unexpected status code 500" {
		t.Errorf("search answered 500: %v", err)
	}
	if _, err := Search(ctx, "http://"+host+"/x", SearchOptions{}); err == nil || !strings.Contains(err.Error(), "should not have a scheme") {
		t.Errorf("term with a scheme: %v", err)
	}
}
