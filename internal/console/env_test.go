package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/api"
	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

const (
	testToken  = "admin-token-for-tests"
	testSecret = "cluster-secret-for-tests"
)

// checkFor calls fn every interval until it returns nil, failing the test
// with fn's last error after timeout.
func checkFor(t testing.TB, timeout, interval time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("CONSOLE_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fakeLauncher stands in for the stream manager's provider: it records
// nodes in the store as a launch would and marks terminated nodes
// TERMINATING.
type fakeLauncher struct {
	st *store.Store

	mu       sync.Mutex
	launched []string
	sunset   []string
	killed   []string
}

func (f *fakeLauncher) LaunchOrigin(ctx context.Context, group string) (store.Node, error) {
	n, err := f.st.CreateNode(ctx, store.Node{Group: group, Role: store.RoleOrigin, Region: "local", Zone: "local", Capacity: 30})
	if err != nil {
		return store.Node{}, err
	}
	f.mu.Lock()
	f.launched = append(f.launched, n.Identifier)
	f.mu.Unlock()
	return n, nil
}

func (f *fakeLauncher) Terminate(ctx context.Context, nodeID string, _ bool) error {
	n, err := f.st.NodeByIdentifier(ctx, nodeID)
	if err != nil {
		return err
	}
	if _, err := f.st.SetNodeState(ctx, n.ID, store.NodeTerminating, "terminate requested"); err != nil {
		return err
	}
	f.mu.Lock()
	f.killed = append(f.killed, nodeID)
	f.mu.Unlock()
	return nil
}

func (f *fakeLauncher) Sunset(_ context.Context, nodeIDs []string) error {
	f.mu.Lock()
	f.sunset = append(f.sunset, nodeIDs...)
	f.mu.Unlock()
	return nil
}

// env is an in-process stream manager: a real store, the REST API with a
// fake launcher, and the console, served together as the manager serves
// them.
type env struct {
	st       *store.Store
	con      *Console
	srv      *httptest.Server
	launcher *fakeLauncher
	// stop ends the console's Run and waits for it.
	stop func()
}

// newEnv starts the environment with the default launch configuration,
// scale policy and group "default". natsURL may be empty.
func newEnv(t *testing.T, natsURL string) *env {
	t.Helper()
	ctx := t.Context()
	st := storetest.Open(t)
	seedStore(t, st)
	e := &env{st: st, launcher: &fakeLauncher{st: st}}
	sel := api.NewSelector(st, api.DefaultWeights(), time.Second, testLogger())
	apiSrv, err := api.New(api.Config{
		Store: st, Selector: sel, Launcher: e.launcher, AdminToken: testToken, ClusterSecret: testSecret,
		ReportInterval: time.Second, Logger: testLogger(),
	})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	e.con, err = New(Config{Store: st, AdminToken: testToken, NATSURL: natsURL, Interval: 200 * time.Millisecond, Logger: testLogger()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(api.BasePath+"/", apiSrv)
	mux.Handle(Path, e.con)
	mux.Handle("GET /{$}", Redirect())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- e.con.Run(runCtx) }()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

func seedStore(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := t.Context()
	if err := st.CreateLaunchConfig(ctx, store.LaunchConfig{Name: "default", Image: "shoal-node", Targets: []store.LaunchTarget{
		{Role: store.RoleOrigin, ConnectionCapacity: 30}, {Role: store.RoleEdge, ConnectionCapacity: 300},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePolicy(ctx, store.ScalePolicy{Name: "default", Regions: []store.PolicyRegion{{Name: store.DefaultRegion, Targets: []store.PolicyTarget{
		{Role: store.RoleOrigin, MinLimit: 1, MaxLimit: 5, ScaleAdjustment: 1}, {Role: store.RoleEdge, MinLimit: 1, MaxLimit: 10, ScaleAdjustment: 1},
	}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateGroup(ctx, store.NodeGroup{Name: "default", Regions: []string{"local"}, LaunchConfig: "default", ScalePolicy: "default"}); err != nil {
		t.Fatal(err)
	}
}

// call makes a request to the environment and decodes a JSON answer into
// out (when not nil). It returns the status.
func (e *env) call(t testing.TB, method, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return res.StatusCode
}

// synthNode is a node registered through the agent endpoints.
type synthNode struct {
	ID   string
	Role string
}

// registerNode registers a node by hand (no provider), as shoal-node does.
func (e *env) registerNode(t testing.TB, role string, i int) synthNode {
	t.Helper()
	var resp agentapi.RegisterResponse
	req := agentapi.RegisterRequest{Role: role, Group: "default", Host: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), RTMPPort: 1935, HTTPPort: 5080}
	if st := e.call(t, "POST", agentapi.RegisterPath, testSecret, req, &resp); st != http.StatusOK {
		t.Fatalf("register %s %d: status %d", role, i, st)
	}
	return synthNode{ID: resp.NodeID, Role: role}
}

// report posts a load report of node.
func (e *env) report(t testing.TB, r agentapi.Report) {
	t.Helper()
	if st := e.call(t, "POST", agentapi.ReportPath, testSecret, r, nil); st != http.StatusOK {
		t.Fatalf("report of %s: status %d", r.NodeID, st)
	}
}

// synthFleet registers origins and as many edges through the agent
// endpoints and makes every node report perNode streams: origin i
// publishes live/s<i>-<j>, edge i carries origin i's streams with j+1
// subscribers each. It returns the nodes, origins first.
func (e *env) synthFleet(t testing.TB, origins, perNode int) []synthNode {
	t.Helper()
	var nodes []synthNode
	for i := range origins {
		nodes = append(nodes, e.registerNode(t, agentapi.RoleOrigin, 2*i))
	}
	for i := range origins {
		nodes = append(nodes, e.registerNode(t, agentapi.RoleEdge, 2*i+1))
	}
	for i, n := range nodes {
		o := i % origins
		r := agentapi.Report{NodeID: n.ID, CPU: 0.05 + float64(i%7)/20, MemoryBytes: int64(50+i) << 20}
		for j := range perNode {
			s := agentapi.Stream{Scope: "live", Name: fmt.Sprintf("s%03d-%02d", o, j)}
			if n.Role == agentapi.RoleOrigin {
				s.Publishing = true
				r.Publishers++
			} else {
				s.Subscribers = j + 1
				r.Subscribers += j + 1
			}
			r.Streams = append(r.Streams, s)
		}
		r.Connections = r.Publishers + r.Subscribers
		r.BytesInPerS, r.BytesOutPerS = int64(r.Publishers)*300_000, int64(r.Subscribers)*300_000
		e.report(t, r)
	}
	return nodes
}
