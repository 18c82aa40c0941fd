package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

var wildcardRE = regexp.MustCompile(`\{([a-z]+)(\.\.\.)?\}`)

// concrete fills the wildcards of a route pattern with sample values.
func concrete(path string) string {
	return wildcardRE.ReplaceAllStringFunc(path, func(w string) string {
		if strings.HasSuffix(w, "...}") {
			return "live/stream1"
		}
		return "x"
	})
}

// TestAuth checks every route of the table: admin and cluster routes answer
// 401 without a token and 403 with a wrong one (both ways of passing the
// admin token), and accept the right one; public routes need none.
func TestAuth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		for _, rt := range e.srv.routes() {
			path := concrete(rt.path)
			name := rt.method + " " + rt.path
			status, _ := e.do(asNobody, rt.method, path, nil)
			switch rt.access {
			case public:
				if status == http.StatusUnauthorized || status == http.StatusForbidden {
					t.Errorf("%s without token = %d, want a public answer", name, status)
				}
				continue
			case admin, cluster:
				if status != http.StatusUnauthorized {
					t.Errorf("%s without token = %d, want 401", name, status)
				}
			}
			if status, _ := e.do(asWrongToken, rt.method, path, nil); status != http.StatusForbidden {
				t.Errorf("%s with wrong bearer token = %d, want 403", name, status)
			}
			right := asAdmin
			if rt.access == cluster {
				right = asCluster
				// The admin token does not open node agent routes.
				if status, _ := e.do(asAdmin, rt.method, path, nil); status != http.StatusForbidden {
					t.Errorf("%s with the admin token = %d, want 403", name, status)
				}
			} else {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				if status, _ := e.do(asNobody, rt.method, path+sep+"accessToken=nope", nil); status != http.StatusForbidden {
					t.Errorf("%s with wrong accessToken = %d, want 403", name, status)
				}
				if status, _ := e.do(asNobody, rt.method, path+sep+"accessToken="+testAdminToken, nil); status == http.StatusUnauthorized || status == http.StatusForbidden {
					t.Errorf("%s with the right accessToken = %d", name, status)
				}
			}
			if status, _ := e.do(right, rt.method, path, nil); status == http.StatusUnauthorized || status == http.StatusForbidden {
				t.Errorf("%s with the right token = %d", name, status)
			}
		}
	})
}

func TestUnknownEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.wantError(asAdmin, "GET", "/admin/nothing", nil, http.StatusNotFound, "no endpoint")
	})
}

func TestNew_RequiresCollaborators(t *testing.T) {
	st := storetest.Open(t)
	sel := NewSelector(st, DefaultWeights(), 0, nil)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no store", Config{Selector: sel, AdminToken: "a", ClusterSecret: "b"}},
		{"no selector", Config{Store: st, AdminToken: "a", ClusterSecret: "b"}},
		{"no admin token", Config{Store: st, Selector: sel, ClusterSecret: "b"}},
		{"no cluster secret", Config{Store: st, Selector: sel, AdminToken: "a"}},
	}
	for _, tc := range tests {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("New(%s) succeeded", tc.name)
		}
	}
}

// TestOpenAPI_CoversRoutes keeps the OpenAPI document true: every route of
// the table is documented, and every documented operation has a route.
func TestOpenAPI_CoversRoutes(t *testing.T) {
	st := storetest.Open(t)
	e := newEnv(t, st)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	e.want(asNobody, "GET", "/openapi.json", nil, http.StatusOK, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range e.srv.routes() {
		ops := rt.docs
		if ops == nil {
			ops = []string{rt.method + " " + rt.path}
		}
		for _, op := range ops {
			served[op] = true
			if !documented[op] {
				t.Errorf("route %s %s: operation %q is not in openapi.yaml", rt.method, rt.path, op)
			}
		}
	}
	var extra []string
	for op := range documented {
		if !served[op] {
			extra = append(extra, op)
		}
	}
	slices.Sort(extra)
	for _, op := range extra {
		t.Errorf("openapi.yaml documents %q, which no route serves", op)
	}
}

func TestCheckToken(t *testing.T) {
	tests := []struct {
		name   string
		header string
		query  string
		want   error
	}{
		{"bearer", "Bearer tok", "", nil},
		{"bearer lower case", "bearer tok", "", nil},
		{"query", "", "?accessToken=tok", nil},
		{"missing", "", "", errNoToken},
		{"empty query", "", "?accessToken=", errNoToken},
		{"basic scheme", "Basic dG9rOg==", "", errNoToken},
		{"wrong", "Bearer tok2", "", errBadToken},
		{"prefix", "Bearer to", "", errBadToken},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "/x"+tc.query, nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := checkToken(r, "tok", true); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("checkToken(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
