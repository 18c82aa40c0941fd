package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

const (
	testAdminToken = "admin-token"
	testSecret     = "cluster-secret"
)

// fakeLauncher records calls; its function fields choose the answers.
type fakeLauncher struct {
	launchOrigin func(ctx context.Context, group string) (store.Node, error)
	terminate    func(ctx context.Context, nodeID string, force bool) error
	sunset       func(ctx context.Context, nodeIDs []string) error

	mu    sync.Mutex
	calls []string
}

func (f *fakeLauncher) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeLauncher) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeLauncher) LaunchOrigin(ctx context.Context, group string) (store.Node, error) {
	f.record("launch origin %s", group)
	if f.launchOrigin != nil {
		return f.launchOrigin(ctx, group)
	}
	return store.Node{}, fmt.Errorf("launch not faked")
}

func (f *fakeLauncher) Terminate(ctx context.Context, nodeID string, force bool) error {
	f.record("terminate %s force=%v", nodeID, force)
	if f.terminate != nil {
		return f.terminate(ctx, nodeID, force)
	}
	return nil
}

func (f *fakeLauncher) Sunset(ctx context.Context, nodeIDs []string) error {
	f.record("sunset %s", strings.Join(nodeIDs, ","))
	if f.sunset != nil {
		return f.sunset(ctx, nodeIDs)
	}
	return nil
}

// fakeRemover records groups it was asked to remove.
type fakeRemover struct {
	mu     sync.Mutex
	groups []string
}

func (f *fakeRemover) RemoveGroup(_ context.Context, group string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups = append(f.groups, group)
	return nil
}

// env is an API server over a store, with fakes for the autoscaler.
type env struct {
	t        *testing.T
	st       *store.Store
	sel      *Selector
	srv      *Server
	launcher *fakeLauncher
	remover  *fakeRemover
}

func newEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	e := &env{t: t, st: st, launcher: &fakeLauncher{}, remover: &fakeRemover{}}
	e.sel = NewSelector(st, DefaultWeights(), time.Minute, slog.New(slog.DiscardHandler))
	srv, err := New(Config{
		Store: st, Selector: e.sel, Launcher: e.launcher, GroupRemover: e.remover,
		AdminToken: testAdminToken, ClusterSecret: testSecret, ReportInterval: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.srv = srv
	return e
}

// auth says which credentials a test request carries.
type auth int

const (
	asAdmin auth = iota + 1
	asCluster
	asNobody
	asWrongToken
)

// do sends a request; body is sent as is when it is a string, else as
// JSON. It returns the status and the body.
func (e *env) do(a auth, method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, BasePath+path, rd)
	switch a {
	case asAdmin:
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
	case asCluster:
		req.Header.Set("Authorization", "Bearer "+testSecret)
	case asWrongToken:
		req.Header.Set("Authorization", "Bearer nope")
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// want sends a request, checks the status and decodes the body into out
// (when out is not nil).
func (e *env) want(a auth, method, path string, body any, status int, out any) {
	e.t.Helper()
	got, b := e.do(a, method, path, body)
	if got != status {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, got, b, status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// wantError checks the status and that the Red5 error body mentions
// every fragment.
func (e *env) wantError(a auth, method, path string, body any, status int, fragments ...string) {
	e.t.Helper()
	got, b := e.do(a, method, path, body)
	if got != status {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, got, b, status)
	}
	var eb errorBody
	if err := json.Unmarshal(b, &eb); err != nil || eb.ErrorMessage == "" || eb.Timestamp == 0 {
		e.t.Fatalf("%s %s: error body %s is not {errorMessage, timestamp}: %v", method, path, b, err)
	}
	for _, f := range fragments {
		if !strings.Contains(eb.ErrorMessage, f) {
			e.t.Errorf("%s %s: errorMessage %q does not mention %q", method, path, eb.ErrorMessage, f)
		}
	}
}

// seed creates launch configuration "lc", scale policy "sp" and group "g".
func (e *env) seed() {
	e.t.Helper()
	ctx := e.t.Context()
	err := e.st.CreateLaunchConfig(ctx, store.LaunchConfig{Name: "lc", Image: "img", Targets: []store.LaunchTarget{
		{Role: store.RoleOrigin, ConnectionCapacity: 30},
		{Role: store.RoleEdge, ConnectionCapacity: 300},
		{Role: store.RoleAllInOne, ConnectionCapacity: 100},
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.CreatePolicy(ctx, store.ScalePolicy{Name: "sp", Regions: []store.PolicyRegion{{
		Name:    "default",
		Targets: []store.PolicyTarget{{Role: store.RoleOrigin, MinLimit: 1, MaxLimit: 2}, {Role: store.RoleEdge, MinLimit: 1, MaxLimit: 10}},
	}}}); err != nil {
		e.t.Fatal(err)
	}
	e.group("g", "local")
}

func (e *env) group(name string, regions ...string) {
	e.t.Helper()
	if _, err := e.st.CreateGroup(e.t.Context(), store.NodeGroup{Name: name, Regions: regions, LaunchConfig: "lc", ScalePolicy: "sp"}); err != nil {
		e.t.Fatal(err)
	}
}

// node creates an INSERVICE node of role in group at host:port.
func (e *env) node(group string, role store.Role, host string, port int, region string) store.Node {
	e.t.Helper()
	ctx := e.t.Context()
	n, err := e.st.CreateNode(ctx, store.Node{
		Group: group, Role: role, Region: region, Zone: region + "-a",
		Address: host, RTMPPort: port, HTTPPort: port + 4000, Capacity: 100,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if n, err = e.st.SetNodeState(ctx, n.ID, store.NodeInService, "test"); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// report saves a report for n and feeds it to the selector, as the report
// endpoint does.
func (e *env) report(n store.Node, r store.Report) {
	e.t.Helper()
	r.StreamCount = len(r.Streams)
	if err := e.st.SaveReport(e.t.Context(), n.ID, r); err != nil {
		e.t.Fatal(err)
	}
	e.sel.Observe(e.t.Context(), n.ID, r)
}

func publishing(scope, name string) store.StreamReport {
	return store.StreamReport{Scope: scope, Name: name, Publishing: true}
}
