package api

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

var groupNameRE = regexp.MustCompile(`^group-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNodeGroups_Create(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		var g groupJSON
		e.want(asAdmin, "POST", "/admin/nodegroup", map[string]any{"regions": []string{"us-east-1", "eu"}, "launchConfig": "lc", "scalePolicy": "sp"},
			http.StatusCreated, &g)
		if !groupNameRE.MatchString(g.Name) || g.State != "new" || g.ID == 0 || g.Timestamp == 0 || g.OriginConnections != 0 {
			t.Errorf("created group = %+v, want generated name, state new", g)
		}
		e.want(asAdmin, "POST", "/admin/nodegroup", map[string]any{"name": "mine", "regions": []string{"r"}, "launchConfig": "lc", "scalePolicy": "sp"},
			http.StatusCreated, &g)
		if g.Name != "mine" {
			t.Errorf("created group name = %q, want mine", g.Name)
		}
		bad := []struct {
			name   string
			body   any
			status int
			msg    string
		}{
			{"malformed", `{"regions":`, http.StatusBadRequest, "malformed JSON"},
			{"unknown field", `{"regions":["r"],"launchConfig":"lc","scalePolicy":"sp","colour":1}`, http.StatusBadRequest, "colour"},
			{"two values", `{"regions":["r"],"launchConfig":"lc","scalePolicy":"sp"} {}`, http.StatusBadRequest, "more than one"},
			{"no regions", map[string]any{"launchConfig": "lc", "scalePolicy": "sp"}, http.StatusBadRequest, "regions"},
			{"empty region", map[string]any{"regions": []string{""}, "launchConfig": "lc", "scalePolicy": "sp"}, http.StatusBadRequest, "regions[0]"},
			{"bad name", map[string]any{"name": "a b", "regions": []string{"r"}, "launchConfig": "lc", "scalePolicy": "sp"}, http.StatusBadRequest, "name"},
			{"no launch config", map[string]any{"regions": []string{"r"}, "scalePolicy": "sp"}, http.StatusBadRequest, "launchConfig: required"},
			{"unknown launch config", map[string]any{"regions": []string{"r"}, "launchConfig": "zz", "scalePolicy": "sp"}, http.StatusBadRequest, "launchConfig"},
			{"unknown policy", map[string]any{"regions": []string{"r"}, "launchConfig": "lc", "scalePolicy": "zz"}, http.StatusBadRequest, "scalePolicy"},
			{"duplicate", map[string]any{"name": "mine", "regions": []string{"r"}, "launchConfig": "lc", "scalePolicy": "sp"}, http.StatusConflict, "mine"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				e := *e
				e.t = t
				e.wantError(asAdmin, "POST", "/admin/nodegroup", tc.body, tc.status, tc.msg)
			})
		}
		var list []groupJSON
		e.want(asAdmin, "GET", "/admin/nodegroup", nil, http.StatusOK, &list)
		if len(list) != 3 || list[0].Name != "g" || list[2].Name != "mine" {
			t.Errorf("GET nodegroup = %+v, want g, generated, mine", list)
		}
		var one groupJSON
		e.want(asAdmin, "GET", "/admin/nodegroup/mine", nil, http.StatusOK, &one)
		if diff := cmp.Diff(g, one); diff != "" {
			t.Errorf("GET nodegroup/mine (-want +got):\n%s", diff)
		}
		e.wantError(asAdmin, "GET", "/admin/nodegroup/nope", nil, http.StatusNotFound, "nope")
	})
}

func TestNodeGroups_Delete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		e.group("empty", "r")
		var g groupJSON
		e.want(asAdmin, "DELETE", "/admin/nodegroup/empty", nil, http.StatusOK, &g)
		if g.Name != "empty" {
			t.Errorf("deleted = %+v", g)
		}
		if _, err := st.Group(t.Context(), "empty"); err == nil {
			t.Error("group without nodes still exists after DELETE")
		}
		e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		e.want(asAdmin, "DELETE", "/admin/nodegroup/g", nil, http.StatusOK, &g)
		if g.State != "deleting" {
			t.Errorf("deleted group state = %q, want deleting", g.State)
		}
		if diff := cmp.Diff([]string{"g"}, e.remover.groups); diff != "" {
			t.Errorf("RemoveGroup calls (-want +got):\n%s", diff)
		}
		// Its nodes no longer get publishers.
		e.wantError(asNobody, "GET", "/event/live/s?action=broadcast", nil, http.StatusServiceUnavailable)
		e.wantError(asAdmin, "POST", "/admin/nodegroup/g/node/origin", nil, http.StatusConflict, "being deleted")
		e.wantError(asAdmin, "DELETE", "/admin/nodegroup/nope", nil, http.StatusNotFound)

		e.srv.cfg.GroupRemover = nil
		e.group("h", "r")
		e.node("h", store.RoleEdge, "10.0.0.2", 1935, "r")
		e.wantError(asAdmin, "DELETE", "/admin/nodegroup/h", nil, http.StatusServiceUnavailable, "no provider")
	})
}

func TestNodeGroups_NodesStatsAndLaunch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		e1 := e.node("g", store.RoleEdge, "10.0.0.2", 1935, "local")
		pending, err := st.CreateNode(t.Context(), store.Node{Group: "g", Role: store.RoleEdge, Zone: "local-a", Capacity: 300})
		if err != nil {
			t.Fatal(err)
		}
		e.report(o, store.Report{Connections: 3, Streams: []store.StreamReport{publishing("live", "a")}})
		e.report(e1, store.Report{Connections: 40})

		var nodes []nodeJSON
		e.want(asAdmin, "GET", "/admin/nodegroup/g/node", nil, http.StatusOK, &nodes)
		if len(nodes) != 3 || nodes[0].State != "inservice" || nodes[2].State != "pending" || nodes[0].AvailabilityZone != "local-a" {
			t.Errorf("GET node = %+v", nodes)
		}
		e.want(asAdmin, "GET", "/admin/nodegroup/g/node/origin", nil, http.StatusOK, &nodes)
		if len(nodes) != 1 || nodes[0].Identifier != o.Identifier || nodes[0].Role != "origin" {
			t.Errorf("GET node/origin = %+v", nodes)
		}
		e.want(asAdmin, "GET", "/admin/nodegroup/g/node/edge", nil, http.StatusOK, &nodes)
		if len(nodes) != 2 || nodes[1].Identifier != pending.Identifier {
			t.Errorf("GET node/edge = %+v", nodes)
		}
		for _, p := range []string{
			"/admin/nodegroup/nope/node", "/admin/nodegroup/nope/node/origin", "/admin/nodegroup/nope/node/edge",
			"/admin/nodegroup/nope/stats", "/admin/nodegroup/nope/node/map",
		} {
			e.wantError(asAdmin, "GET", p, nil, http.StatusNotFound, "nope")
		}

		var stats groupStatsJSON
		e.want(asAdmin, "GET", "/admin/nodegroup/g/stats", nil, http.StatusOK, &stats)
		want := groupStatsJSON{TotalConnections: 43, TargetTypeLoadSummary: []roleLoad{
			{Type: "origin", TotalNodeCount: 1, TotalActiveNodeCount: 1, NetConnectionCapacity: 100, NetConnectionLoad: 3},
			{Type: "edge", TotalNodeCount: 2, TotalActiveNodeCount: 1, NetConnectionCapacity: 100, NetConnectionLoad: 40},
		}}
		if diff := cmp.Diff(want, stats); diff != "" {
			t.Errorf("GET stats (-want +got):\n%s", diff)
		}

		launched := store.Node{}
		e.launcher.launchOrigin = func(ctx context.Context, group string) (store.Node, error) {
			n, err := st.CreateNode(ctx, store.Node{Group: group, Role: store.RoleOrigin, Zone: "local-a"})
			launched = n
			return n, err
		}
		var l launchedJSON
		e.want(asAdmin, "POST", "/admin/nodegroup/g/node/origin", nil, http.StatusCreated, &l)
		if l.Identifier != launched.Identifier || l.Role != "origin" || l.Group != "g" || l.RequestTime == 0 || l.AvailabilityZone != "local-a" {
			t.Errorf("launch = %+v, want %+v", l, launched)
		}
		e.wantError(asAdmin, "POST", "/admin/nodegroup/nope/node/origin", nil, http.StatusNotFound)
		e.srv.cfg.Launcher = nil
		e.wantError(asAdmin, "POST", "/admin/nodegroup/g/node/origin", nil, http.StatusServiceUnavailable, "no provider")
	})
}

func TestNodeGroups_Map(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		ctx := t.Context()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		e1 := e.node("g", store.RoleEdge, "10.0.0.2", 1935, "local")
		e2 := e.node("g", store.RoleEdge, "10.0.0.3", 1935, "local")
		lone, _ := st.CreateNode(ctx, store.Node{Group: "g", Role: store.RoleEdge, Zone: "z", Address: "10.0.0.4", RTMPPort: 1935})
		for _, n := range []store.Node{e1, e2} {
			if err := st.SetNodeParents(ctx, n.ID, []string{o.HostPort()}); err != nil {
				t.Fatal(err)
			}
		}
		e.report(o, store.Report{Streams: []store.StreamReport{publishing("live", "a")}})
		e.report(e1, store.Report{Streams: []store.StreamReport{{Scope: "live", Name: "a", Subscribers: 3}}})

		status, body := e.do(asAdmin, "GET", "/admin/nodegroup/g/node/relations?linkstate=true", nil)
		want := strings.Join([]string{
			"GROUP g (active)",
			"ORIGINS",
			"  ORIGIN " + o.Identifier + " 10.0.0.1:1935 inservice",
			"    EDGE " + e1.Identifier + " 10.0.0.2:1935 inservice [ESTABLISHED]",
			"    EDGE " + e2.Identifier + " 10.0.0.3:1935 inservice [IDLE]",
			"TRANSCODERS",
			"  (none)",
			"UNLINKED",
			"  EDGE " + lone.Identifier + " 10.0.0.4:1935 pending",
			"",
		}, "\n")
		if status != http.StatusOK {
			t.Fatalf("GET relations = %d %s", status, body)
		}
		if diff := cmp.Diff(want, string(body)); diff != "" {
			t.Errorf("relations (-want +got):\n%s", diff)
		}
		_, body = e.do(asAdmin, "GET", "/admin/nodegroup/g/node/map", nil)
		if strings.Contains(string(body), "ESTABLISHED") || !strings.Contains(string(body), "    EDGE "+e2.Identifier) {
			t.Errorf("map without linkstate:\n%s", body)
		}
		e.wantError(asAdmin, "GET", "/admin/nodegroup/g/node/map?linkstate=maybe", nil, http.StatusBadRequest, "linkstate")
	})
}
