package streammanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/smclient"
	"github.com/shoal-live/shoal/internal/store"
)

// checkFor polls f every interval until it returns nil, failing the test
// with f's last error after timeout.
func checkFor(t *testing.T, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// checkNoLeaks fails the test if goroutines of Shoal's packages are still
// running once the test and its cleanups are done. Call it first, so that
// its cleanup runs last.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var leaked []string
			for _, g := range strings.Split(string(buf), "\n\n") {
				if strings.Contains(g, "shoal-live/shoal/internal/") && !strings.Contains(g, "testing.tRunner") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) > 0 {
				return fmt.Errorf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			}
			return nil
		})
	})
}

// testConfig is a manager on free loopback ports with a store in a
// temporary directory, fast loops, a seeded group "g" of one origin and
// one to three edges of capacity 10.
func testConfig(t *testing.T) config.Manager {
	t.Helper()
	dir := t.TempDir()
	cfg := config.DefaultManager()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.REST.AdminToken = "admin-token"
	cfg.Cluster.ReportInterval = time.Second
	cfg.Store.DSN = filepath.Join(dir, "shoal.db")
	cfg.NATS.Embedded = config.EmbeddedNATS{Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, "nats")}
	cfg.Provider.Type = "none" // the tests hand a fake cloud to newManager
	cfg.Autoscale.Interval = 200 * time.Millisecond
	cfg.Autoscale.CompetitiveGap = 200 * time.Millisecond
	cfg.Autoscale.ScaleInWait = time.Second
	cfg.Autoscale.DrainTimeout = 5 * time.Second
	cfg.Autoscale.NewNodePingTimeout = 10 * time.Second
	cfg.Selection.RefreshInterval = time.Second
	cfg.Seed.Group = "g"
	cfg.Seed.OriginMin, cfg.Seed.OriginMax = 1, 1
	cfg.Seed.EdgeMin, cfg.Seed.EdgeMax = 1, 3
	cfg.Seed.OriginCapacity, cfg.Seed.EdgeCapacity = 10, 10
	return cfg
}

// running is a manager started by startManager.
type running struct {
	m      *Manager
	cloud  *fakeCloud
	client *smclient.Client
	stop   func() error // cancels Run and returns its error
}

// startManager runs a manager with cloud as its provider (nil: none)
// until the test ends or stop is called.
func startManager(t *testing.T, cfg config.Manager, fc *fakeCloud) *running {
	t.Helper()
	var prov cloud
	if fc != nil {
		prov = fc
	}
	m := newManager(cfg, prov, testLogger(t).With("component", "manager"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("manager not ready after 10s")
	}
	var stopped bool
	var runErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return 30s after cancel")
			}
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &running{m: m, cloud: fc, client: smclient.New(m.URL(), cfg.REST.AdminToken, nil), stop: stop}
}

// waitNodes waits until the group's nodes of role in state number want,
// and returns them.
func waitNodes(t *testing.T, c *smclient.Client, group, role, state string, want int, timeout time.Duration) []smclient.Node {
	t.Helper()
	var got []smclient.Node
	checkFor(t, timeout, 50*time.Millisecond, func() error {
		nodes, err := c.Nodes(context.Background(), group)
		if err != nil {
			return err
		}
		got = got[:0]
		var all []string
		for _, n := range nodes {
			all = append(all, n.Identifier+"/"+n.Role+"/"+n.State)
			if n.Role == role && n.State == state && !n.Draining {
				got = append(got, n)
			}
		}
		if len(got) != want {
			return fmt.Errorf("%d %s nodes %s, want %d; nodes: %v", len(got), role, state, want, all)
		}
		return nil
	})
	return got
}

// events returns the group's scaling events as "action role", oldest
// first.
func events(t *testing.T, c *smclient.Client, group string) []smclient.ScalingEvent {
	t.Helper()
	evs, err := c.ScalingEvents(context.Background(), smclient.ScalingEventFilter{Group: group})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(evs)
	return evs
}

// lastEvent returns the id of the group's latest scaling event, 0 if none.
func lastEvent(t *testing.T, c *smclient.Client, group string) int64 {
	t.Helper()
	evs := events(t, c, group)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].ID
}

// waitEvent waits for a scaling event of the group with that action and
// role and an id above after, and returns the first.
func waitEvent(t *testing.T, c *smclient.Client, group, action, role string, after int64, timeout time.Duration) smclient.ScalingEvent {
	t.Helper()
	var found smclient.ScalingEvent
	checkFor(t, timeout, 50*time.Millisecond, func() error {
		evs := events(t, c, group)
		for _, e := range evs {
			if e.ID > after && e.Action == action && e.Role == role {
				found = e
				return nil
			}
		}
		var have []string
		for _, e := range evs {
			have = append(have, e.Action+" "+e.Role)
		}
		return fmt.Errorf("no %s %s event; have %v", action, role, have)
	})
	return found
}

func nodeEvents(t *testing.T, dsn, identifier string) []string {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.NodeEvents(context.Background(), identifier)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.To)
	}
	return out
}

func TestManagerScalesOutInAndReplaces(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig(t)
	cloud := newFakeCloud(t)
	r := startManager(t, cfg, cloud)
	c, ctx := r.client, t.Context()

	// The seeded group is filled to its minimum.
	origin := waitNodes(t, c, "g", "origin", "inservice", 1, 10*time.Second)[0]
	edge1 := waitNodes(t, c, "g", "edge", "inservice", 1, 10*time.Second)[0]
	if !strings.HasPrefix(edge1.Identifier, "node-local-") || edge1.Capacity != 10 {
		t.Errorf("edge %+v: want identifier node-local-<ms> and capacity 10", edge1)
	}
	if got := nodeEvents(t, cfg.Store.DSN, edge1.Identifier); !slices.Equal(got[:1], []string{"PENDING"}) || got[len(got)-1] != "INSERVICE" {
		t.Errorf("edge states %v, want PENDING ... INSERVICE", got)
	}

	// 7 subscribers on an edge of capacity 10 pass the 60% alarm.
	mark := lastEvent(t, c, "g")
	cloud.node(edge1.Identifier).setLoad(7)
	out := waitEvent(t, c, "g", "scale_out", "edge", mark, 10*time.Second)
	if !strings.Contains(out.Reason, "edge load 70%") {
		t.Errorf("scale-out reason %q, want the 70%% load", out.Reason)
	}
	edges := waitNodes(t, c, "g", "edge", "inservice", 2, 10*time.Second)
	if out.NodeID == "" || out.NodeID == edge1.Identifier || (out.NodeID != edges[0].Identifier && out.NodeID != edges[1].Identifier) {
		t.Errorf("scale-out event names node %q, want the new edge", out.NodeID)
	}

	// New subscribers go to the new, empty edge.
	cloud.node(origin.Identifier).publish("live", "s1")
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		ep, err := c.Subscribe(ctx, "live", "s1")
		if err != nil {
			return err
		}
		for _, e := range edges {
			if e.Identifier != edge1.Identifier && strings.Contains(ep.RTMPURL, e.RTMPAddr()) {
				return nil
			}
		}
		return fmt.Errorf("subscribe answered %s, want the new edge", ep.RTMPURL)
	})

	// The load goes: one edge is drained, then terminated and removed.
	mark = lastEvent(t, c, "g")
	cloud.node(edge1.Identifier).setLoad(0)
	in := waitEvent(t, c, "g", "scale_in", "edge", mark, 15*time.Second)
	term := waitEvent(t, c, "g", "terminate", "edge", mark, 10*time.Second)
	if in.NodeID == "" || term.NodeID != in.NodeID {
		t.Errorf("drained %q, terminated %q: want the same node", in.NodeID, term.NodeID)
	}
	left := waitNodes(t, c, "g", "edge", "inservice", 1, 10*time.Second)[0]
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		got := nodeEvents(t, cfg.Store.DSN, in.NodeID)
		if len(got) < 2 || got[len(got)-2] != "TERMINATING" || got[len(got)-1] != "REMOVED" {
			return fmt.Errorf("drained edge states %v, want ... TERMINATING REMOVED", got)
		}
		return nil
	})

	// The last edge dies: it is FAULT, terminated and replaced.
	mark = lastEvent(t, c, "g")
	cloud.kill(t, left.Identifier)
	waitEvent(t, c, "g", "terminate", "edge", mark, 10*time.Second)
	waitEvent(t, c, "g", "replace", "edge", mark, 10*time.Second)
	replacement := waitNodes(t, c, "g", "edge", "inservice", 1, 10*time.Second)[0]
	if replacement.Identifier == left.Identifier {
		t.Fatalf("edge %s still in service after it died", left.Identifier)
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		got := nodeEvents(t, cfg.Store.DSN, left.Identifier)
		want := []string{"FAULT", "TERMINATING", "REMOVED"}
		if len(got) < 3 || !slices.Equal(got[len(got)-3:], want) {
			return fmt.Errorf("dead edge states %v, want ... %v", got, want)
		}
		return nil
	})

	// Stopping the manager stops the nodes and removes their records.
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := cloud.count(); n != 0 {
		t.Errorf("%d instances left after the manager stopped", n)
	}
	st, err := store.Open(context.Background(), cfg.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if nodes, err := st.Nodes(context.Background(), store.NodeFilter{}); err != nil || len(nodes) != 0 {
		t.Errorf("nodes after stop = %v, %v; want none", nodes, err)
	}
}

func TestManagerScalesFromZeroOnRefusedSubscribers(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig(t)
	cfg.Seed.EdgeMin = 0
	cloud := newFakeCloud(t)
	r := startManager(t, cfg, cloud)
	c, ctx := r.client, t.Context()
	origin := waitNodes(t, c, "g", "origin", "inservice", 1, 10*time.Second)[0]
	cloud.node(origin.Identifier).publish("live", "s1")
	// Once the origin reported the stream, subscribers are refused for
	// want of an edge, which the autoscaler sees.
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if _, err := c.Subscribe(ctx, "live", "s1"); !smclient.IsStatus(err, http.StatusServiceUnavailable) {
			return fmt.Errorf("Subscribe with no edge = %w, want 503", err)
		}
		return nil
	})
	out := waitEvent(t, c, "g", "scale_out", "edge", 0, 10*time.Second)
	if !strings.Contains(out.Reason, "unplaced") {
		t.Errorf("scale-out reason %q, want the unplaced subscribers", out.Reason)
	}
	edge := waitNodes(t, c, "g", "edge", "inservice", 1, 10*time.Second)[0]
	ep, err := c.Subscribe(ctx, "live", "s1")
	if err != nil || !strings.Contains(ep.RTMPURL, edge.RTMPAddr()) {
		t.Errorf("Subscribe = %+v, %v; want the new edge %s", ep, err, edge.RTMPAddr())
	}
}

func TestManagerAPIActions(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig(t)
	cfg.Seed.OriginMax = 2
	cloud := newFakeCloud(t)
	r := startManager(t, cfg, cloud)
	c, ctx := r.client, t.Context()
	waitNodes(t, c, "g", "origin", "inservice", 1, 10*time.Second)
	edge := waitNodes(t, c, "g", "edge", "inservice", 1, 10*time.Second)[0]

	// Launch an origin.
	launched, err := c.LaunchOrigin(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if launched.Role != "origin" || launched.Group != "g" {
		t.Errorf("LaunchOrigin = %+v", launched)
	}
	origins := waitNodes(t, c, "g", "origin", "inservice", 2, 10*time.Second)

	// The relations map shows the edge under both origins.
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		m, err := c.NodeMap(ctx, "g", false)
		if err != nil {
			return err
		}
		if strings.Count(m, "EDGE "+edge.Identifier) != 2 {
			return fmt.Errorf("map does not show %s under both origins:\n%s", edge.Identifier, m)
		}
		return nil
	})

	// Force-terminate it.
	if _, err := c.TerminateNode(ctx, launched.Identifier, true); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if _, err := c.Node(ctx, launched.Identifier); !smclient.IsStatus(err, http.StatusNotFound) {
			return fmt.Errorf("node %s after terminate: %w, want 404", launched.Identifier, err)
		}
		return nil
	})
	_ = origins

	// Sunset the edge: a replacement comes, the empty edge goes.
	if _, err := c.Sunset(ctx, []string{edge.Identifier}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, c, "g", "replace", "edge", 0, 5*time.Second)
	newEdge := waitNodes(t, c, "g", "edge", "inservice", 1, 10*time.Second)[0]
	if newEdge.Identifier == edge.Identifier {
		t.Fatalf("sunset edge %s still takes clients", edge.Identifier)
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if _, err := c.Node(ctx, edge.Identifier); !smclient.IsStatus(err, http.StatusNotFound) {
			return fmt.Errorf("sunset node after it emptied: %w, want 404", err)
		}
		return nil
	})

	// A failed launch leaves no record.
	cloud.mu.Lock()
	cloud.failCreate = true
	cloud.mu.Unlock()
	failed, err := c.LaunchOrigin(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if _, err := c.Node(ctx, failed.Identifier); !smclient.IsStatus(err, http.StatusNotFound) {
			return fmt.Errorf("node of a failed launch: %w, want 404", err)
		}
		return nil
	})
	cloud.mu.Lock()
	cloud.failCreate = false
	cloud.mu.Unlock()

	// Delete the group: its nodes go, then the group.
	if _, err := c.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		if _, err := c.Group(ctx, "g"); !smclient.IsStatus(err, http.StatusNotFound) {
			return fmt.Errorf("group after delete: %w, want 404", err)
		}
		return nil
	})
	if n := cloud.count(); n != 0 {
		t.Errorf("%d instances left after the group was deleted", n)
	}
}

func TestManagerRemovesRecordsOfGoneInstancesAtStart(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig(t)
	st, err := store.Open(context.Background(), cfg.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed(context.Background(), st, cfg.Seed, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	stale, err := st.CreateNode(context.Background(), store.Node{Group: "g", Role: store.RoleEdge, Zone: "local", ProviderID: "local-old-1", State: store.NodeInService})
	if err != nil {
		t.Fatal(err)
	}
	hand, err := st.CreateNode(context.Background(), store.Node{Group: "g", Role: store.RoleEdge, Zone: "local", Address: "10.0.0.9", RTMPPort: 1935, State: store.NodeInService})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	cfg.Seed.EdgeMin, cfg.Seed.OriginMin = 0, 0
	r := startManager(t, cfg, newFakeCloud(t))
	if _, err := r.client.Node(t.Context(), stale.Identifier); !smclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("stale node after start: %v, want 404", err)
	}
	if _, err := r.client.Node(t.Context(), hand.Identifier); err != nil {
		t.Errorf("node started by hand after start: %v, want it kept", err)
	}
	got := nodeEvents(t, cfg.Store.DSN, stale.Identifier)
	if got[len(got)-1] != "REMOVED" {
		t.Errorf("stale node states %v, want ... REMOVED", got)
	}
}

func TestManagerWithoutProvider(t *testing.T) {
	checkNoLeaks(t)
	cfg := testConfig(t)
	r := startManager(t, cfg, nil)
	ctx := t.Context()
	// No autoscaler: the seeded group stays empty, and launching is 503.
	if _, err := r.client.LaunchOrigin(ctx, "g"); !smclient.IsStatus(err, http.StatusServiceUnavailable) {
		t.Errorf("LaunchOrigin without a provider = %v, want 503", err)
	}
	nodes, err := r.client.Nodes(ctx, "g")
	if err != nil || len(nodes) != 0 {
		t.Errorf("Nodes = %v, %v; want none", nodes, err)
	}
	// GET / leads to the console; /healthz answers.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path, location string
		status         int
	}{
		{"/", "/console/", http.StatusFound},
		{"/healthz", "", http.StatusOK},
		{"/streammanager/api/4.0/openapi.json", "", http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.m.URL()+tc.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
		}
	}
}

func TestNewRequiresAdminToken(t *testing.T) {
	cfg := testConfig(t)
	cfg.REST.AdminToken = ""
	_, err := New(cfg, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "rest.admin_token") {
		t.Errorf("New without admin token = %v, want an error naming rest.admin_token", err)
	}
	cfg = testConfig(t)
	cfg.Provider.Type = "local"
	cfg.Provider.Local.Binary = filepath.Join(t.TempDir(), "no-such-shoal-node")
	if _, err := New(cfg, testLogger(t)); err == nil {
		t.Error("New with a missing shoal-node binary succeeded")
	}
	cfg = testConfig(t)
	cfg.Autoscale.ScaleOutMode = "eager"
	var ve *config.ValidationError
	if _, err := New(cfg, testLogger(t)); !errors.As(err, &ve) {
		t.Errorf("New with a bad config = %v, want a ValidationError", err)
	}
}
