package smclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/api"
	"github.com/shoal-live/shoal/internal/smclient"
	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

// newServer serves the real API over a fresh store.
func newServer(t *testing.T) (*store.Store, *smclient.Client) {
	t.Helper()
	st := storetest.Open(t)
	srv, err := api.New(api.Config{
		Store: st, Selector: api.NewSelector(st, api.DefaultWeights(), time.Minute, nil),
		AdminToken: "tok", ClusterSecret: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return st, smclient.New(ts.URL+"/", "tok", nil)
}

const launchDoc = `{"launchconfig":{"name":"lc","description":"","image":"shoal-node","version":"0.0.3",
	"targets":{"target":[{"role":"origin","instanceType":"x","connectionCapacity":"30"},{"role":"edge","instanceType":"x","connectionCapacity":300}]},
	"properties":{"property":[]},"metadata":{"meta":[]}}}`

const policyDoc = `{"policy":{"name":"sp","targets":{"region":[{"name":"default","target":[
	{"role":"origin","minLimit":1,"maxLimit":2},{"role":"edge","minLimit":1,"maxLimit":%d}]}]}}}`

func TestClientAgainstAPI(t *testing.T) {
	st, c := newServer(t)
	ctx := t.Context()

	// Documents: put creates, put again replaces, get returns them.
	if _, err := c.PutLaunchConfig(ctx, "lc", json.RawMessage(launchDoc)); err != nil {
		t.Fatalf("PutLaunchConfig (create): %v", err)
	}
	for _, max := range []string{"4", "8"} {
		if _, err := c.PutScalePolicy(ctx, "sp", json.RawMessage(strings.Replace(policyDoc, "%d", max, 1))); err != nil {
			t.Fatalf("PutScalePolicy(max %s): %v", max, err)
		}
	}
	doc, err := c.ScalePolicy(ctx, "sp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), `"maxLimit":8`) {
		t.Errorf("ScalePolicy = %s, want maxLimit 8", doc)
	}
	if names, err := c.LaunchConfigs(ctx); err != nil || !cmp.Equal(names, []string{"lc"}) {
		t.Errorf("LaunchConfigs = %v, %v", names, err)
	}
	if names, err := c.ScalePolicies(ctx); err != nil || !cmp.Equal(names, []string{"sp"}) {
		t.Errorf("ScalePolicies = %v, %v", names, err)
	}
	if doc, err := c.LaunchConfig(ctx, "lc"); err != nil || !strings.Contains(string(doc), `"connectionCapacity":"300"`) {
		t.Errorf("LaunchConfig = %s, %v", doc, err)
	}

	// Groups.
	g, err := c.CreateGroup(ctx, "g1", []string{"local"}, "lc", "sp")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "g1" || g.State != "new" || g.LaunchConfig != "lc" {
		t.Errorf("CreateGroup = %+v", g)
	}
	if gs, err := c.Groups(ctx); err != nil || len(gs) != 1 || gs[0].Name != "g1" {
		t.Errorf("Groups = %+v, %v", gs, err)
	}

	// Resize: 500-1000 publishers on origins of 30, 1000-3000 subscribers
	// on edges of 300 (the reference's example).
	rg, err := c.ResizeGroup(ctx, "g1", []smclient.RegionSize{{Region: "local", MinPublishers: 500, MaxPublishers: 1000, MinSubscribers: 1000, MaxSubscribers: 3000}})
	if err != nil {
		t.Fatal(err)
	}
	wantLimits := []smclient.Limit{{Role: "origin", MinLimit: 17, MaxLimit: 34, ConnectionCapacity: 30}, {Role: "edge", MinLimit: 4, MaxLimit: 10, ConnectionCapacity: 300}}
	if rg.Name != "g1" || rg.ScalePolicy != "sp" || rg.Resize.PolicyCreated || len(rg.Resize.Region) != 1 ||
		!cmp.Equal(rg.Resize.Region[0].Target, wantLimits) || !cmp.Equal(rg.Resize.Total, wantLimits) {
		t.Errorf("ResizeGroup = %+v, want origins 17-34 and edges 4-10 in sp", rg)
	}
	if _, err := c.ResizeGroup(ctx, "g1", []smclient.RegionSize{{Region: "mars", MaxPublishers: 1}}); !smclient.IsStatus(err, http.StatusBadRequest) ||
		!strings.Contains(err.Error(), "cannot add regions") {
		t.Errorf("ResizeGroup(unknown region) = %v, want 400 naming the rule", err)
	}

	// Nodes, as a registered node shows them.
	n, err := st.CreateNode(ctx, store.Node{Group: "g1", Role: store.RoleOrigin, Zone: "local", Capacity: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RegisterNode(ctx, n.ID, store.Registration{Address: "127.0.0.1", RTMPPort: 1936, HTTPPort: 5081}); err != nil {
		t.Fatal(err)
	}
	nodes, err := c.Nodes(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].State != "inservice" || nodes[0].RTMPAddr() != "127.0.0.1:1936" || nodes[0].HTTPAddr() != "127.0.0.1:5081" {
		t.Errorf("Nodes = %+v", nodes)
	}
	if got, err := c.Node(ctx, "127.0.0.1:1936"); err != nil || got.Identifier != n.Identifier {
		t.Errorf("Node(host:port) = %+v, %v", got, err)
	}
	if m, err := c.NodeMap(ctx, "g1", true); err != nil || !strings.Contains(m, "ORIGIN "+n.Identifier) {
		t.Errorf("NodeMap = %q, %v", m, err)
	}
	if gs, err := c.GroupStats(ctx, "g1"); err != nil || len(gs.TargetTypeLoadSummary) != 1 || gs.TargetTypeLoadSummary[0].NetConnectionCapacity != 30 {
		t.Errorf("GroupStats = %+v, %v", gs, err)
	}

	// Publisher lookups need no token and answer an endpoint.
	anon := smclient.New(c.BaseURL(), "", nil)
	ep, err := anon.Broadcast(ctx, "live/room", "cam1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "rtmp://127.0.0.1:1936/live/room/cam1"; ep.RTMPURL != want || ep.Scope != "/live/room" {
		t.Errorf("Broadcast = %+v, want %s", ep, want)
	}
	if _, err := anon.Subscribe(ctx, "live", "nothing"); !smclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("Subscribe to an unpublished stream = %v, want 404", err)
	}
	if _, err := anon.StreamStats(ctx, "live", "nothing"); !smclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("StreamStats of an unpublished stream = %v, want 404", err)
	}

	// Alarms and events.
	if a, err := c.SetAlarm(ctx, "edge", 75); err != nil || a.Threshold != 75 || a.Type != "SCALEOUTALARM" {
		t.Errorf("SetAlarm = %+v, %v", a, err)
	}
	if a, err := c.Alarm(ctx, "edge"); err != nil || a.Threshold != 75 {
		t.Errorf("Alarm = %+v, %v", a, err)
	}
	if _, err := st.AddScalingEvent(ctx, store.ScalingEvent{Group: "g1", Role: store.RoleEdge, Action: store.ActionScaleOut, Reason: "load"}); err != nil {
		t.Fatal(err)
	}
	evs, err := c.ScalingEvents(ctx, smclient.ScalingEventFilter{Group: "g1", Limit: 5})
	if err != nil || len(evs) != 1 || evs[0].Action != "scale_out" || evs[0].Reason != "load" {
		t.Errorf("ScalingEvents = %+v, %v", evs, err)
	}

	// Errors carry the status and the server's message.
	_, err = anon.Groups(ctx)
	if !smclient.IsStatus(err, http.StatusUnauthorized) || !strings.Contains(err.Error(), "missing access token") {
		t.Errorf("Groups without token = %v, want 401 naming the missing token", err)
	}
	if _, err := c.LaunchOrigin(ctx, "g1"); !smclient.IsStatus(err, http.StatusServiceUnavailable) {
		t.Errorf("LaunchOrigin without a launcher = %v, want 503", err)
	}
	if _, err := c.DeleteGroup(ctx, "nope"); !smclient.IsStatus(err, http.StatusNotFound) {
		t.Errorf("DeleteGroup(nope) = %v, want 404", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	c := smclient.New("http://127.0.0.1:1", "tok", &http.Client{Timeout: time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := c.Groups(ctx)
	if err == nil || !strings.Contains(err.Error(), "GET /admin/nodegroup") {
		t.Errorf("Groups on a closed port = %v, want an error naming the call", err)
	}
}
