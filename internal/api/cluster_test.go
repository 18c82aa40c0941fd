package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func TestCluster_RegisterLaunchedNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		ctx := t.Context()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		pending, err := st.CreateNode(ctx, store.Node{Group: "g", Role: store.RoleEdge, Region: "local", Zone: "local-a", Capacity: 300})
		if err != nil {
			t.Fatal(err)
		}
		var resp agentapi.RegisterResponse
		// The manager's record wins over the role the node asks for.
		e.want(asCluster, "POST", "/cluster/register", agentapi.RegisterRequest{
			NodeID: pending.Identifier, Role: "origin",
			Host: "10.0.0.7", RTMPPort: 1935, HTTPPort: 5080, Version: "0.1",
		}, http.StatusOK, &resp)
		want := agentapi.RegisterResponse{NodeID: pending.Identifier, Role: "edge", Group: "g", Parents: []string{o.HostPort()}, ReportIntervalMS: 5000}
		if diff := cmp.Diff(want, resp); diff != "" {
			t.Errorf("register (-want +got):\n%s", diff)
		}
		n, _ := st.Node(ctx, pending.ID)
		if n.State != store.NodeInService || n.Address != "10.0.0.7" || n.HTTPPort != 5080 || n.Version != "0.1" {
			t.Errorf("node after register = %+v", n)
		}
		e.wantError(asCluster, "POST", "/cluster/register", agentapi.RegisterRequest{NodeID: "node-x-1", Host: "h", RTMPPort: 1}, http.StatusNotFound)
		if _, err := st.SetNodeState(ctx, n.ID, store.NodeTerminating, "test"); err != nil {
			t.Fatal(err)
		}
		e.wantError(asCluster, "POST", "/cluster/register", agentapi.RegisterRequest{NodeID: n.Identifier, Host: "h", RTMPPort: 1}, http.StatusConflict, "TERMINATING")
	})
}

func TestCluster_RegisterHandStartedNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		req := agentapi.RegisterRequest{Role: "allinone", Host: "127.0.0.1", RTMPPort: 1935, HTTPPort: 5080}
		e.wantError(asCluster, "POST", "/cluster/register", req, http.StatusNotFound, "no node group")
		e.seed()
		var resp agentapi.RegisterResponse
		e.want(asCluster, "POST", "/cluster/register", req, http.StatusOK, &resp)
		if resp.Group != "g" || resp.Role != "allinone" || !strings.HasPrefix(resp.NodeID, "node-local-") || len(resp.Parents) != 0 {
			t.Errorf("register = %+v", resp)
		}
		n, err := st.NodeByIdentifier(t.Context(), resp.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		if n.State != store.NodeInService || n.Capacity != 100 || n.Region != "local" || n.LaunchConfig != "lc" {
			t.Errorf("adopted node = %+v, want INSERVICE, capacity from the launch configuration", n)
		}
		// A restart registers again with the same address: same record.
		var again agentapi.RegisterResponse
		e.want(asCluster, "POST", "/cluster/register", req, http.StatusOK, &again)
		if again.NodeID != resp.NodeID {
			t.Errorf("re-register got %s, want %s", again.NodeID, resp.NodeID)
		}
		if g, _ := st.Group(t.Context(), "g"); g.State != store.GroupActive {
			t.Errorf("group state = %s, want active", g.State)
		}
		e.group("h", "eu")
		e.wantError(asCluster, "POST", "/cluster/register", req, http.StatusBadRequest, "group: required")
		req.Group, req.Role, req.RTMPPort = "h", "edge", 1936
		e.want(asCluster, "POST", "/cluster/register", req, http.StatusOK, &resp)
		if resp.Group != "h" || !strings.HasPrefix(resp.NodeID, "node-eu-") {
			t.Errorf("register in h = %+v", resp)
		}
		req.Group = "nope"
		e.wantError(asCluster, "POST", "/cluster/register", req, http.StatusNotFound, "nope")

		bad := []struct {
			name string
			body any
			msg  string
		}{
			{"malformed", `{"host":`, "malformed JSON"},
			{"unknown field", `{"host":"h","rtmp_port":1,"colour":2}`, "colour"},
			{"no host", agentapi.RegisterRequest{Role: "edge", RTMPPort: 1}, "host: required"},
			{"bad rtmp port", agentapi.RegisterRequest{Role: "edge", Host: "h", RTMPPort: 70000}, "rtmp_port"},
			{"bad http port", agentapi.RegisterRequest{Role: "edge", Host: "h", RTMPPort: 1, HTTPPort: -1}, "http_port"},
			{"bad role", agentapi.RegisterRequest{Role: "mixer", Host: "h", RTMPPort: 1, Group: "g"}, "role: must be one of"},
		}
		for _, tc := range bad {
			e.wantError(asCluster, "POST", "/cluster/register", tc.body, http.StatusBadRequest, tc.msg)
		}
	})
}

func TestCluster_Report(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		ctx := t.Context()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		rep := agentapi.Report{
			NodeID: o.Identifier, Connections: 5, Publishers: 1, Subscribers: 4, BytesInPerS: 1e6, BytesOutPerS: 4e6,
			CPU: 0.3, MemoryBytes: 64 << 20, Streams: []agentapi.Stream{{Scope: "/live/room1/", Name: "s1", Publishing: true, Subscribers: 4}},
		}
		var resp agentapi.ReportResponse
		e.want(asCluster, "POST", "/cluster/report", rep, http.StatusOK, &resp)
		if resp.State != "inservice" || resp.Draining || resp.Parents == nil {
			t.Errorf("report response = %+v", resp)
		}
		last, err := st.LastReport(ctx, o.ID)
		if err != nil || last.Connections != 5 || last.MemoryBytes != 64<<20 || last.StreamCount != 1 {
			t.Errorf("stored report = %+v, %v", last, err)
		}
		ss, _ := st.Streams(ctx, store.StreamFilter{})
		if len(ss) != 1 || ss[0].Scope != "live/room1" || ss[0].Role != store.StreamOrigin {
			t.Errorf("stored streams = %+v, want live/room1/s1 as origin", ss)
		}
		// The selector sees the stream at once.
		var origin agentapi.OriginResponse
		e.want(asCluster, "GET", "/cluster/origin?scope=live/room1&stream=s1", nil, http.StatusOK, &origin)
		want := agentapi.OriginResponse{NodeID: o.Identifier, Host: "10.0.0.1", RTMPPort: 1935, RTMPURL: "rtmp://10.0.0.1:1935/live/room1/s1"}
		if diff := cmp.Diff(want, origin); diff != "" {
			t.Errorf("origin (-want +got):\n%s", diff)
		}
		e.wantError(asCluster, "GET", "/cluster/origin?scope=live&stream=nope", nil, http.StatusNotFound, "not published")
		e.wantError(asCluster, "GET", "/cluster/origin?stream=s1", nil, http.StatusBadRequest, "scope: required")
		e.wantError(asCluster, "GET", "/cluster/origin?scope=live", nil, http.StatusBadRequest, "stream: required")

		// A FAULT node that reports again is back in service.
		if _, err := st.SetNodeState(ctx, o.ID, store.NodeFault, "test"); err != nil {
			t.Fatal(err)
		}
		e.want(asCluster, "POST", "/cluster/report", rep, http.StatusOK, &resp)
		if resp.State != "inservice" {
			t.Errorf("report of a FAULT node: state %q, want inservice", resp.State)
		}
		if _, err := st.SetNodeDraining(ctx, o.ID, true, "test"); err != nil {
			t.Fatal(err)
		}
		e.want(asCluster, "POST", "/cluster/report", rep, http.StatusOK, &resp)
		if !resp.Draining {
			t.Error("report response does not tell the node it is draining")
		}

		pending, _ := st.CreateNode(ctx, store.Node{Group: "g", Role: store.RoleEdge, Zone: "z"})
		e.wantError(asCluster, "POST", "/cluster/report", agentapi.Report{NodeID: pending.Identifier}, http.StatusConflict, "register first")
		e.wantError(asCluster, "POST", "/cluster/report", agentapi.Report{NodeID: "node-gone-1"}, http.StatusNotFound)

		bad := []struct {
			name string
			body any
			msg  string
		}{
			{"malformed", `{"node_id":`, "malformed JSON"},
			{"unknown field", `{"node_id":"x","load":1}`, `unknown field "load"`},
			{"no node id", agentapi.Report{}, "node_id: required"},
			{"negative connections", agentapi.Report{NodeID: "x", Connections: -1}, "connections: must be >= 0"},
			{"negative bytes", agentapi.Report{NodeID: "x", BytesOutPerS: -1}, "bytes_out_per_s"},
			{"negative cpu", agentapi.Report{NodeID: "x", CPU: -0.5}, "cpu"},
			{"stream without scope", agentapi.Report{NodeID: "x", Streams: []agentapi.Stream{{Name: "a"}}}, "streams[0].scope: required"},
			{"stream without name", agentapi.Report{NodeID: "x", Streams: []agentapi.Stream{{Scope: "live", Name: "a"}, {Scope: "live"}}}, "streams[1].name"},
			{"stream name with slash", agentapi.Report{NodeID: "x", Streams: []agentapi.Stream{{Scope: "live", Name: "a/b"}}}, "streams[0].name"},
			{"negative subscribers", agentapi.Report{NodeID: "x", Streams: []agentapi.Stream{{Scope: "live", Name: "a", Subscribers: -2}}}, "streams[0].subscribers"},
		}
		for _, tc := range bad {
			e.wantError(asCluster, "POST", "/cluster/report", tc.body, http.StatusBadRequest, tc.msg)
		}
	})
}
