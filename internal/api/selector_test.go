package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func subscribe(scope, name string) Query {
	return Query{Action: ActionSubscribe, Scope: scope, Name: name, Endpoints: 1}
}

func broadcast(scope, name string) Query {
	return Query{Action: ActionBroadcast, Scope: scope, Name: name, Endpoints: 1}
}

// selectOne runs q and returns the chosen node's address, or the error.
func selectOne(t *testing.T, sel *Selector, q Query) (string, error) {
	t.Helper()
	nodes, err := sel.Select(t.Context(), q)
	if err != nil {
		return "", err
	}
	if len(nodes) == 0 {
		t.Fatalf("Select(%+v) returned no node and no error", q)
	}
	return nodes[0].Address, nil
}

func TestSelector_Weights(t *testing.T) {
	tests := []struct {
		name    string
		weights Weights
		want    string
	}{
		{"red5 defaults favour fewer subscribers", DefaultWeights(), "10.0.0.3"},
		{"memory dominates", Weights{Memory: 100, Subscribers: 1}, "10.0.0.2"},
		{"streams dominate", Weights{Streams: 100}, "10.0.0.2"},
		{"connections only", Weights{Connections: 1}, "10.0.0.3"},
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		a := e.node("g", store.RoleEdge, "10.0.0.2", 1935, "local")
		b := e.node("g", store.RoleEdge, "10.0.0.3", 1935, "local")
		e.report(o, store.Report{Streams: []store.StreamReport{publishing("live", "s")}})
		// a: many subscribers, little memory, one stream; b: few subscribers, much memory, many streams.
		e.report(a, store.Report{
			Connections: 80, Subscribers: 80, MemoryBytes: 100 << 20,
			Streams: []store.StreamReport{{Scope: "live", Name: "s"}},
		})
		e.report(b, store.Report{
			Connections: 10, Subscribers: 10, MemoryBytes: 2 << 30,
			Streams: []store.StreamReport{{Scope: "live", Name: "s"}, {Scope: "live", Name: "t"}, {Scope: "live", Name: "u"}},
		})
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				sel := NewSelector(st, tc.weights, time.Minute, slog.New(slog.DiscardHandler))
				got, err := selectOne(t, sel, subscribe("live", "s"))
				if err != nil || got != tc.want {
					t.Errorf("Select = %s, %v; want %s", got, err, tc.want)
				}
			})
		}
	})
}

func TestSelector_DrainingFaultAndDeleting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		ctx := t.Context()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		a := e.node("g", store.RoleEdge, "10.0.0.2", 1935, "local")
		b := e.node("g", store.RoleEdge, "10.0.0.3", 1935, "local")
		e.report(o, store.Report{Streams: []store.StreamReport{publishing("live", "s")}})
		e.report(a, store.Report{Subscribers: 0})
		e.report(b, store.Report{Subscribers: 90})
		if got, _ := selectOne(t, e.sel, subscribe("live", "s")); got != a.Address {
			t.Fatalf("before draining: %s, want the idle edge %s", got, a.Address)
		}
		// Draining written to the store is seen by the very next lookup.
		if _, err := st.SetNodeDraining(ctx, a.ID, true, "test"); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if got, err := selectOne(t, e.sel, subscribe("live", "s")); err != nil || got != b.Address {
				t.Fatalf("after draining a: %s, %v; want %s", got, err, b.Address)
			}
		}
		if _, err := st.SetNodeState(ctx, b.ID, store.NodeFault, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := selectOne(t, e.sel, subscribe("live", "s")); !errors.Is(err, errNoNodeInService) {
			t.Errorf("with no edge in service: %v, want errNoNodeInService", err)
		}
		// A draining origin keeps its stream for subscribers but takes no new publisher.
		if _, err := st.SetNodeDraining(ctx, a.ID, false, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetNodeDraining(ctx, o.ID, true, "test"); err != nil {
			t.Fatal(err)
		}
		if got, err := selectOne(t, e.sel, subscribe("live", "s")); err != nil || got != a.Address {
			t.Errorf("subscribe via draining origin = %s, %v; want %s", got, err, a.Address)
		}
		if _, err := selectOne(t, e.sel, broadcast("live", "s")); !errors.Is(err, errNoNodeInService) {
			t.Errorf("broadcast with the only origin draining: %v, want errNoNodeInService", err)
		}
		// A terminating origin's streams are gone for subscribers.
		if _, err := st.SetNodeState(ctx, o.ID, store.NodeTerminating, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := selectOne(t, e.sel, subscribe("live", "s")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("subscribe to a stream on a terminating origin: %v, want ErrNotFound", err)
		}
		if _, err := e.sel.Origin(ctx, "live", "s"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Origin on a terminating origin: %v, want ErrNotFound", err)
		}
		// Nodes of a group being deleted get nothing.
		o2 := e.node("g", store.RoleOrigin, "10.0.0.4", 1935, "local")
		if got, _ := selectOne(t, e.sel, broadcast("live", "x")); got != o2.Address {
			t.Fatalf("broadcast = %s, want %s", got, o2.Address)
		}
		if err := st.SetGroupState(ctx, "g", store.GroupDeleting); err != nil {
			t.Fatal(err)
		}
		if _, err := selectOne(t, e.sel, broadcast("live", "x")); !errors.Is(err, errNoNodeInService) {
			t.Errorf("broadcast into a deleting group: %v, want errNoNodeInService", err)
		}
	})
}

func TestSelector_Regions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "us-east-1")
		e.node("g", store.RoleOrigin, "10.0.0.2", 1935, "eu-west-1")
		tests := []struct {
			name    string
			region  string
			strict  bool
			want    string
			wantErr error
		}{
			{"preferred region", "eu-west-1", false, "10.0.0.2", nil},
			{"other preferred region", "us-east-1", false, "10.0.0.1", nil},
			{"strict region", "eu-west-1", true, "10.0.0.2", nil},
			{"missing region falls back", "ap-south-1", false, "", nil},
			{"missing strict region fails", "ap-south-1", true, "", errNoNodeInService},
		}
		for _, tc := range tests {
			q := broadcast("live", "s")
			q.Region, q.Strict = tc.region, tc.strict
			got, err := selectOne(t, e.sel, q)
			if !errors.Is(err, tc.wantErr) || (tc.want != "" && got != tc.want) || (tc.wantErr == nil && got == "") {
				t.Errorf("%s: Select = %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.wantErr)
			}
		}
		e.wantError(asNobody, "GET", "/event/live/s?action=broadcast&region=ap-south-1&strict=true", nil, http.StatusServiceUnavailable, "ap-south-1")
	})
}

func TestSelector_SpreadsBurstsBetweenReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		e.report(o, store.Report{Streams: []store.StreamReport{publishing("live", "s")}})
		edges := map[string]store.Node{}
		for _, addr := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"} {
			n := e.node("g", store.RoleEdge, addr, 1935, "local")
			edges[addr] = n
			e.report(n, store.Report{})
		}
		counts := map[string]int{}
		for range 300 {
			got, err := selectOne(t, e.sel, subscribe("live", "s"))
			if err != nil {
				t.Fatal(err)
			}
			counts[got]++
		}
		for addr, c := range counts {
			if c < 90 || c > 110 {
				t.Errorf("edge %s got %d of 300 subscribers without a report; want about 100 each: %v", addr, c, counts)
			}
		}
		// A new report resets the pending count: the edge reported idle wins again.
		for addr, n := range edges {
			subs := 100
			if addr == "10.0.0.4" {
				subs = 0
			}
			e.report(n, store.Report{At: time.Now().Add(time.Second), Subscribers: subs, Connections: subs})
		}
		if got, _ := selectOne(t, e.sel, subscribe("live", "s")); got != "10.0.0.4" {
			t.Errorf("after reports: %s, want the idle edge 10.0.0.4", got)
		}
	})
}

func TestSelector_AllInOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		aio := e.node("g", store.RoleAllInOne, "127.0.0.1", 1935, "local")
		if got, err := selectOne(t, e.sel, broadcast("live", "s")); err != nil || got != aio.Address {
			t.Fatalf("broadcast = %s, %v; want the allinone node", got, err)
		}
		e.report(aio, store.Report{Streams: []store.StreamReport{publishing("live", "s")}})
		if got, err := selectOne(t, e.sel, subscribe("live", "s")); err != nil || got != aio.Address {
			t.Errorf("subscribe in a group without edges = %s, %v; want the allinone origin", got, err)
		}
		edge := e.node("g", store.RoleEdge, "127.0.0.2", 1935, "local")
		if got, err := selectOne(t, e.sel, subscribe("live", "s")); err != nil || got != edge.Address {
			t.Errorf("subscribe with an edge = %s, %v; want the edge", got, err)
		}
		// group= restricts the choice.
		e.group("other", "local")
		q := broadcast("live", "s2")
		q.Group = "other"
		if _, err := selectOne(t, e.sel, q); !errors.Is(err, errNoNodeInService) {
			t.Errorf("broadcast in an empty group: %v, want errNoNodeInService", err)
		}
		q.Group = "g"
		if got, _ := selectOne(t, e.sel, q); got != aio.Address {
			t.Errorf("broadcast in g = %s", got)
		}
	})
}

// TestSelector_RefreshSeesOtherProcesses opens a second store on the same
// database, as another manager would, and checks Refresh picks up what it
// writes.
func TestSelector_RefreshSeesOtherProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := t.Context()
	a, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	eb := newEnv(t, b)
	eb.seed()
	o := eb.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
	if err := b.SaveReport(ctx, o.ID, store.Report{Streams: []store.StreamReport{publishing("live", "s")}}); err != nil {
		t.Fatal(err)
	}
	sel := NewSelector(a, DefaultWeights(), 20*time.Millisecond, nil)
	// The first lookup loads everything.
	if n, err := sel.Origin(ctx, "live", "s"); err != nil || n.ID != o.ID {
		t.Fatalf("Origin = %+v, %v", n, err)
	}
	if _, err := b.SetNodeDraining(ctx, o.ID, true, "other manager"); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sel.Run(runCtx) }()
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if _, err := sel.Select(ctx, broadcast("live", "x")); !errors.Is(err, errNoNodeInService) {
			return errors.New("draining written by another process not seen yet")
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// checkFor calls fn every interval until it returns nil or timeout passes.
func checkFor(t *testing.T, timeout, interval time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}
