package api

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func TestNodes_ReadAndStats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		a := e.node("g", store.RoleEdge, "127.0.0.1", 1936, "local")
		e.node("g", store.RoleEdge, "127.0.0.1", 1937, "local")
		if err := st.SetNodeParents(t.Context(), a.ID, []string{o.HostPort()}); err != nil {
			t.Fatal(err)
		}
		e.report(a, store.Report{Connections: 12})

		for _, addr := range []string{o.Identifier, "10.0.0.1", "10.0.0.1:1935"} {
			var n nodeJSON
			e.want(asAdmin, "GET", "/admin/node/"+addr, nil, http.StatusOK, &n)
			if n.Identifier != o.Identifier || n.Group != "g" || n.State != "inservice" || n.Capacity != 100 || n.RTMPPort != 1935 {
				t.Errorf("GET node/%s = %+v", addr, n)
			}
		}
		e.wantError(asAdmin, "GET", "/admin/node/127.0.0.1", nil, http.StatusConflict, "host:port")
		e.wantError(asAdmin, "GET", "/admin/node/10.9.9.9", nil, http.StatusNotFound)

		var s nodeStatsJSON
		e.want(asAdmin, "GET", "/admin/node/127.0.0.1:1936/stats", nil, http.StatusOK, &s)
		if s.TotalConnections != 12 || s.LastTrafficTime == 0 || s.LastPing == 0 || s.Identifier != a.Identifier ||
			!cmp.Equal(s.Parents, []string{"10.0.0.1:1935"}) {
			t.Errorf("GET stats = %+v", s)
		}
		e.want(asAdmin, "GET", "/admin/node/"+o.Identifier+"/stats", nil, http.StatusOK, &s)
		if s.TotalConnections != 0 || s.LastTrafficTime != 0 || s.Parents == nil {
			t.Errorf("GET stats of a node without report = %+v", s)
		}
		e.wantError(asAdmin, "GET", "/admin/node/nope/stats", nil, http.StatusNotFound)
	})
}

func TestNodes_Terminate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		ctx := t.Context()
		n := e.node("g", store.RoleEdge, "10.0.0.2", 1935, "local")
		pending, _ := st.CreateNode(ctx, store.Node{Group: "g", Role: store.RoleEdge, Zone: "z", Address: "10.0.0.3", RTMPPort: 1935})
		e.launcher.terminate = func(ctx context.Context, id string, _ bool) error {
			got, err := st.NodeByIdentifier(ctx, id)
			if err != nil {
				return err
			}
			_, err = st.SetNodeState(ctx, got.ID, store.NodeTerminating, "admin")
			return err
		}
		var out nodeJSON
		e.want(asAdmin, "DELETE", "/admin/node/10.0.0.2", nil, http.StatusOK, &out)
		if out.State != "terminating" {
			t.Errorf("DELETE node = %+v, want terminating", out)
		}
		e.wantError(asAdmin, "DELETE", "/admin/node/10.0.0.3", nil, http.StatusConflict, "force=true")
		e.want(asAdmin, "DELETE", "/admin/node/10.0.0.3?force=true", nil, http.StatusOK, nil)
		want := []string{"terminate " + n.Identifier + " force=false", "terminate " + pending.Identifier + " force=true"}
		if diff := cmp.Diff(want, e.launcher.Calls()); diff != "" {
			t.Errorf("launcher calls (-want +got):\n%s", diff)
		}
		e.wantError(asAdmin, "DELETE", "/admin/node/10.0.0.3?force=yes", nil, http.StatusBadRequest, "force")
		e.wantError(asAdmin, "DELETE", "/admin/node/10.9.9.9", nil, http.StatusNotFound)
		e.launcher.terminate = func(context.Context, string, bool) error { return errors.New("cloud says no") }
		other := e.node("g", store.RoleEdge, "10.0.0.4", 1935, "local")
		e.wantError(asAdmin, "DELETE", "/admin/node/"+other.Identifier, nil, http.StatusInternalServerError, "internal error")
		e.srv.cfg.Launcher = nil
		e.wantError(asAdmin, "DELETE", "/admin/node/"+other.Identifier, nil, http.StatusServiceUnavailable, "no provider")
	})
}

func TestNodes_Sunset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		a := e.node("g", store.RoleEdge, "10.0.0.2", 1935, "local")
		b := e.node("g", store.RoleEdge, "10.0.0.3", 1935, "local")
		e.report(o, store.Report{Streams: []store.StreamReport{publishing("live", "s")}})

		e.wantError(asAdmin, "POST", "/admin/node/sunset", `["10.0.0.2"`, http.StatusBadRequest, "malformed JSON")
		e.wantError(asAdmin, "POST", "/admin/node/sunset", `{"a":1}`, http.StatusBadRequest, "malformed JSON")
		e.wantError(asAdmin, "POST", "/admin/node/sunset", `[]`, http.StatusBadRequest, "non-empty")
		e.wantError(asAdmin, "POST", "/admin/node/sunset", `[""]`, http.StatusBadRequest, "[0]")
		e.wantError(asAdmin, "POST", "/admin/node/sunset", `["10.0.0.2","10.9.9.9"]`, http.StatusNotFound, "10.9.9.9")
		if n, _ := st.Node(t.Context(), a.ID); n.Draining {
			t.Error("a failed sunset drained a node")
		}

		var out []nodeJSON
		e.want(asAdmin, "POST", "/admin/node/sunset", []string{"10.0.0.2"}, http.StatusOK, &out)
		if len(out) != 1 || !out[0].Draining {
			t.Errorf("sunset = %+v, want one draining node", out)
		}
		if diff := cmp.Diff([]string{"sunset " + a.Identifier}, e.launcher.Calls()); diff != "" {
			t.Errorf("launcher calls (-want +got):\n%s", diff)
		}
		// Every subscriber now goes to b.
		for range 5 {
			var ev eventResponse
			e.want(asNobody, "GET", "/event/live/s?action=subscribe", nil, http.StatusOK, &ev)
			if ev.ServerAddress != b.Address {
				t.Fatalf("subscribe after sunset = %s, want %s", ev.ServerAddress, b.Address)
			}
		}
		e.srv.cfg.Launcher = nil
		e.wantError(asAdmin, "POST", "/admin/node/sunset", []string{"10.0.0.3"}, http.StatusServiceUnavailable)
	})
}
