package mediaserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/agent"
	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/relay"
	"github.com/shoal-live/shoal/internal/rtmp"
)

const managerSecret = "cluster-secret"

// testManager is a small stream manager: it adopts every node that
// registers, keeps each node's last report, finds origins from the
// reports, and drains the nodes the test says.
type testManager struct {
	intervalMS int64

	mu       sync.Mutex
	nodes    map[string]*managedNode // by node id
	order    []string
	draining map[string]bool
}

type managedNode struct {
	id       string
	reg      agentapi.RegisterRequest
	last     agentapi.Report
	reports  []time.Time
	withCam  time.Time // when a report first listed live/cam as published
	lastTime time.Time
}

func newTestManager(t *testing.T) (*testManager, string) {
	m := &testManager{intervalMS: 2000, nodes: map[string]*managedNode{}, draining: map[string]bool{}}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv.URL
}

func (m *testManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+managerSecret {
		answer(w, http.StatusForbidden, agentapi.Error{Message: "invalid access token"})
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	switch r.URL.Path {
	case agentapi.RegisterPath:
		var req agentapi.RegisterRequest
		if err := dec.Decode(&req); err != nil {
			answer(w, http.StatusBadRequest, agentapi.Error{Message: err.Error()})
			return
		}
		if req.NodeID != "" {
			answer(w, http.StatusNotFound, agentapi.Error{Message: "node " + req.NodeID + " not found"})
			return
		}
		id := fmt.Sprintf("%s-%d", req.Role, len(m.order)+1)
		m.nodes[id] = &managedNode{id: id, reg: req}
		m.order = append(m.order, id)
		answer(w, http.StatusOK, agentapi.RegisterResponse{
			NodeID: id, Role: req.Role, Group: "g1", Parents: []string{},
			ReportIntervalMS: m.intervalMS,
		})
	case agentapi.ReportPath:
		var rep agentapi.Report
		if err := dec.Decode(&rep); err != nil {
			answer(w, http.StatusBadRequest, agentapi.Error{Message: err.Error()})
			return
		}
		n := m.nodes[rep.NodeID]
		if n == nil {
			answer(w, http.StatusNotFound, agentapi.Error{Message: "node " + rep.NodeID + " not found"})
			return
		}
		now := time.Now()
		n.last, n.lastTime = rep, now
		n.reports = append(n.reports, now)
		if n.withCam.IsZero() && publishes(rep, "live", "cam") {
			n.withCam = now
		}
		answer(w, http.StatusOK, agentapi.ReportResponse{State: "inservice", Draining: m.draining[n.id], Parents: []string{}})
	case agentapi.OriginPath:
		scope, name := r.URL.Query().Get("scope"), r.URL.Query().Get("stream")
		for _, id := range m.order {
			if n := m.nodes[id]; publishes(n.last, scope, name) {
				answer(w, http.StatusOK, agentapi.OriginResponse{
					NodeID: id, Host: n.reg.Host, RTMPPort: n.reg.RTMPPort,
					RTMPURL: agentapi.RTMPURL(n.reg.Host, n.reg.RTMPPort, scope, name),
				})
				return
			}
		}
		answer(w, http.StatusNotFound, agentapi.Error{Message: "stream not published"})
	default:
		answer(w, http.StatusNotFound, agentapi.Error{Message: "no route"})
	}
}

func publishes(rep agentapi.Report, scope, name string) bool {
	for _, s := range rep.Streams {
		if s.Scope == scope && s.Name == name && s.Publishing {
			return true
		}
	}
	return false
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// node returns a copy of the node registered with role; ok is false if
// none.
func (m *testManager) node(role string) (managedNode, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range m.order {
		if n := m.nodes[id]; n.reg.Role == role {
			c := *n
			c.reports = append([]time.Time(nil), n.reports...)
			return c, true
		}
	}
	return managedNode{}, false
}

func (m *testManager) setDraining(id string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.draining[id] = on
}

// reportedStream returns the stream scope/name from a report.
func reportedStream(rep agentapi.Report, scope, name string) (agentapi.Stream, bool) {
	for _, s := range rep.Streams {
		if s.Scope == scope && s.Name == name {
			return s, true
		}
	}
	return agentapi.Stream{}, false
}

// managedNodeConfig points a node at the manager, started by hand (no
// node.id: the manager adopts it).
func managedNodeConfig(role, url string) func(*config.Node) {
	return func(c *config.Node) {
		c.Node.Role = role
		c.Node.ID = ""
		c.Manager.URL = url
		c.Manager.Secret = managerSecret
		c.Relay.IdleTimeout = time.Second
		c.Relay.RetryMin = 50 * time.Millisecond
		c.Relay.RetryMax = 200 * time.Millisecond
	}
}

// healthOf fetches and decodes /healthz.
func healthOf(t *testing.T, n *testNode) health {
	t.Helper()
	resp, err := http.Get(n.httpURL("/healthz"))
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("decode /healthz: %v", err)
	}
	return h
}

func TestManagerLinkOriginAndEdge(t *testing.T) {
	m, url := newTestManager(t)
	origin := startNode(t, managedNodeConfig("origin", url))
	edge := startNode(t, managedNodeConfig("edge", url))

	// Both register and report; healthz shows what the manager said.
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, n := range []*testNode{origin, edge} {
			if h := healthOf(t, n); h.Manager == nil || !h.Manager.Registered || h.Manager.LastReport.IsZero() {
				return fmt.Errorf("%s healthz manager = %+v, want registered and reporting", n.cfg.Node.Role, h.Manager)
			}
		}
		return nil
	})
	h := healthOf(t, edge)
	if h.Manager.NodeID != "edge-2" && h.Manager.NodeID != "edge-1" || h.Manager.Role != "edge" || h.Manager.Group != "g1" {
		t.Errorf("edge healthz manager = %+v, want the manager's edge id, role edge, group g1", h.Manager)
	}
	on, _ := m.node("origin")
	if on.reg.NodeID != "" || on.reg.Host != "127.0.0.1" || on.reg.RTMPPort != origin.RTMPAddr().Port ||
		on.reg.HTTPPort != origin.HTTPAddr().Port || on.reg.Role != "origin" {
		t.Errorf("origin registration = %+v, want no node id, 127.0.0.1 and the real ports", on.reg)
	}

	// A publish is reported at once, not at the next 2s tick.
	startGoPublisher(t, origin.rtmpURL("live"), "cam", 0)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if on, _ = m.node("origin"); on.withCam.IsZero() {
			return errors.New("origin has not reported live/cam yet")
		}
		return nil
	})
	var before time.Time
	for _, at := range on.reports {
		if at.Before(on.withCam) {
			before = at
		}
	}
	if gap := on.withCam.Sub(before); gap > 1500*time.Millisecond {
		t.Errorf("publish reported %s after the previous report, want at once (well before the 2s interval)", gap)
	}

	// A player on the edge: the edge asks the manager for the origin and
	// pulls from it.
	p := startGoPlayer(t, edge, "live", "cam")
	checkStartsOnKeyframe(t, p.read(t, 30))
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		en, _ := m.node("edge")
		es, ok := reportedStream(en.last, "live", "cam")
		if !ok || es.Publishing || es.Subscribers != 1 || en.last.Publishers != 0 || en.last.Subscribers != 1 {
			return fmt.Errorf("edge report %+v: want live/cam pulled (not publishing) with 1 subscriber", en.last)
		}
		orig, _ := m.node("origin")
		os, ok := reportedStream(orig.last, "live", "cam")
		if !ok || !os.Publishing || os.Subscribers != 0 || orig.last.Publishers != 1 || orig.last.Subscribers != 0 ||
			orig.last.Connections < 2 || orig.last.MemoryBytes <= 0 {
			return fmt.Errorf("origin report %+v: want live/cam published, the edge pull not counted as a player, "+
				"2 connections", orig.last)
		}
		return nil
	})
	if pulls := healthOf(t, edge).RelayPulls; len(pulls) != 1 || pulls[0].Key != "live/cam" || !pulls[0].Connected ||
		pulls[0].OriginURL != origin.rtmpURL("live/cam") {
		t.Errorf("edge healthz relay_pulls = %+v, want live/cam from the origin", pulls)
	}

	// The manager drains the edge: new players are refused, the playing
	// one goes on.
	en, _ := m.node("edge")
	m.setDraining(en.id, true)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if h := healthOf(t, edge); !h.Manager.Draining {
			return errors.New("edge healthz does not show draining yet")
		}
		return nil
	})
	playRefused(t, edge, "live", "cam", rtmp.CodePlayFailed, "node draining")
	p.read(t, 30)

	// A draining origin refuses players but still serves edge pulls.
	m.setDraining(en.id, false)
	m.setDraining(on.id, true)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if healthOf(t, edge).Manager.Draining || !healthOf(t, origin).Manager.Draining {
			return errors.New("drain flags not switched yet")
		}
		return nil
	})
	playRefused(t, origin, "live", "cam", rtmp.CodePlayFailed, "node draining")
	startGoPublisher(t, origin.rtmpURL("live"), "cam2", 0)
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		orig, _ := m.node("origin")
		if !publishes(orig.last, "live", "cam2") {
			return errors.New("origin has not reported live/cam2 yet")
		}
		return nil
	})
	p2 := startGoPlayer(t, edge, "live", "cam2")
	checkStartsOnKeyframe(t, p2.read(t, 30))
}

// playRefused checks that playing app/name on n is refused with code and
// description.
func playRefused(t *testing.T, n *testNode, app, name, code, desc string) {
	t.Helper()
	c := dial(t, n.rtmpURL(app))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Play(ctx, name)
	var se *rtmp.StatusError
	if !errors.As(err, &se) || se.Code != code || se.Description != desc {
		t.Fatalf("Play(%s/%s) on %s = %v, want %s %q", app, name, n.cfg.Node.Role, err, code, desc)
	}
}

func TestManagerLinkEdgeAsksManager(t *testing.T) {
	_, url := newTestManager(t)
	edge := startNode(t, managedNodeConfig("edge", url))
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if h := healthOf(t, edge); !h.Manager.Registered {
			return errors.New("edge not registered yet")
		}
		return nil
	})
	// Nothing publishes live/none: the manager answers 404.
	playRefused(t, edge, "live", "none", rtmp.CodePlayStreamNotFound, "stream not found")
}

func TestManagerLinkUnreachableManager(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	n := startNode(t, managedNodeConfig("allinone", url))
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		h := healthOf(t, n)
		if h.Manager == nil || h.Manager.Registered || !strings.Contains(h.Manager.LastError, "connection refused") {
			return fmt.Errorf("healthz manager = %+v, want unregistered with the connection error", h.Manager)
		}
		return nil
	})
	if !n.logs.contains("stream manager registration failed") {
		t.Error("no log line says the manager is unreachable")
	}
	// The node serves on its own.
	startGoPublisher(t, n.rtmpURL("live"), "cam", 0)
	waitPublishing(t, n, "live/cam")
	p := startGoPlayer(t, n, "live", "cam")
	checkStartsOnKeyframe(t, p.read(t, 30))
}

func TestAdvertisedHost(t *testing.T) {
	tests := []struct {
		name       string
		configured string
		addr       string
		want       string
	}{
		{name: "configured wins", configured: "media.example.com", addr: "10.0.0.1:1935", want: "media.example.com"},
		{name: "listen host", addr: "10.0.0.1:1935", want: "10.0.0.1"},
		{name: "unspecified v4", addr: "0.0.0.0:1935", want: "127.0.0.1"},
		{name: "unspecified v6", addr: "[::]:1935", want: "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := advertisedHost(tc.configured, a); got != tc.want {
				t.Errorf("advertisedHost(%q, %s) = %q, want %q", tc.configured, tc.addr, got, tc.want)
			}
		})
	}
}

func TestAgentLocatorMapsNotPublished(t *testing.T) {
	_, url := newTestManager(t)
	a := agent.New(agent.Config{ManagerURL: url, Secret: managerSecret}, nil, slog.New(slog.DiscardHandler))
	_, err := agentLocator{a}.Origin(t.Context(), "live/none")
	if !errors.Is(err, relay.ErrStreamNotFound) {
		t.Errorf("Origin(live/none) = %v, want relay.ErrStreamNotFound", err)
	}
	if _, err := (agentLocator{a}).Origin(t.Context(), "noscope"); !errors.Is(err, relay.ErrStreamNotFound) {
		t.Errorf("Origin(noscope) = %v, want relay.ErrStreamNotFound", err)
	}
}

func TestManagerLinkReportsSharedObjectClients(t *testing.T) {
	m, url := newTestManager(t)
	m.intervalMS = 1000
	n := startNode(t, managedNodeConfig("origin", url))
	use(t, soClient(t, n, "SOSample", 0), "BallControl", false)
	use(t, soClient(t, n, "SOSample", 3), "BallControl", false)
	checkFor(t, 15*time.Second, 100*time.Millisecond, func() error {
		node, ok := m.node("origin")
		if !ok {
			return fmt.Errorf("node not registered")
		}
		for _, so := range node.last.SharedObjects {
			if so.Scope == "SOSample" && so.Name == "BallControl" && !so.Persistent && so.Clients == 2 {
				return nil
			}
		}
		return fmt.Errorf("last report's shared objects: %+v, want SOSample/BallControl with 2 clients", node.last.SharedObjects)
	})
}
