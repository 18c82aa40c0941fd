package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

// eventPaths are wildcards of /event/{path...}; they also seed
// FuzzSplitEventPath.
var eventPaths = []struct {
	path         string
	scope, name  string
	stats, isErr bool
}{
	{path: "live/s1", scope: "live", name: "s1"},
	{path: "live/room1/s1", scope: "live/room1", name: "s1"},
	{path: "live/s1/stats", scope: "live", name: "s1", stats: true},
	{path: "live/room1/s1/stats", scope: "live/room1", name: "s1", stats: true},
	{path: "live/stats", scope: "live", name: "stats"},
	{path: "s1", isErr: true},
	{path: "live//s1", isErr: true},
	{path: "", isErr: true},
}

func TestSplitEventPath(t *testing.T) {
	for _, tc := range eventPaths {
		scope, name, stats, err := splitEventPath(tc.path)
		if (err != nil) != tc.isErr || scope != tc.scope || name != tc.name || stats != tc.stats {
			t.Errorf("splitEventPath(%q) = %q, %q, %v, %v; want %q, %q, %v, error %v",
				tc.path, scope, name, stats, err, tc.scope, tc.name, tc.stats, tc.isErr)
		}
	}
}

func TestEvents_BroadcastAndSubscribe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.wantError(asNobody, "GET", "/event/live/s1?action=broadcast", nil, http.StatusNotFound, "no node group")
		e.seed()
		e.wantError(asNobody, "GET", "/event/live/s1?action=broadcast", nil, http.StatusServiceUnavailable, "no node in service")
		busy := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		idle := e.node("g", store.RoleOrigin, "10.0.0.2", 1935, "local")
		e.report(busy, store.Report{Connections: 50, Subscribers: 40, Streams: []store.StreamReport{publishing("live", "other")}})
		e.report(idle, store.Report{Connections: 1})

		var ev eventResponse
		e.want(asNobody, "GET", "/event/live/room1/s1?action=broadcast", nil, http.StatusOK, &ev)
		want := eventResponse{
			Name: "s1", Scope: "/live/room1", ServerAddress: "10.0.0.2", Region: "local",
			RTMPURL: "rtmp://10.0.0.2:1935/live/room1/s1", WSURL: "ws://10.0.0.2:5935/so/live/room1",
		}
		if diff := cmp.Diff(want, ev); diff != "" {
			t.Errorf("broadcast (-want +got):\n%s", diff)
		}
		// A publisher of a stream that is already published goes back to its origin.
		e.want(asNobody, "GET", "/event/live/other?action=broadcast", nil, http.StatusOK, &ev)
		if ev.ServerAddress != "10.0.0.1" {
			t.Errorf("broadcast of a published stream went to %s, want its origin 10.0.0.1", ev.ServerAddress)
		}
		var evs []eventResponse
		e.want(asNobody, "GET", "/event/live/s2?action=broadcast&endpoints=2", nil, http.StatusOK, &evs)
		if len(evs) != 2 || evs[0].ServerAddress != "10.0.0.2" || evs[1].ServerAddress != "10.0.0.1" {
			t.Errorf("broadcast endpoints=2 = %+v, want idle then busy", evs)
		}

		e.wantError(asNobody, "GET", "/event/live/other?action=subscribe", nil, http.StatusServiceUnavailable, "no edge")
		edge := e.node("g", store.RoleEdge, "10.0.0.3", 1935, "local")
		e.want(asNobody, "GET", "/event/live/other?action=subscribe", nil, http.StatusOK, &ev)
		if ev.ServerAddress != edge.Address || ev.RTMPURL != "rtmp://10.0.0.3:1935/live/other" {
			t.Errorf("subscribe = %+v, want the edge", ev)
		}
		e.want(asNobody, "GET", "/event/live/other?action=subscribe&endpoints=3", nil, http.StatusOK, &evs)
		if len(evs) != 1 {
			t.Errorf("subscribe endpoints=3 with one edge = %+v, want an array of 1", evs)
		}
		e.wantError(asNobody, "GET", "/event/live/nope?action=subscribe", nil, http.StatusNotFound, "not published")
		e.wantError(asNobody, "GET", "/event/live/other?action=subscribe&group=nope", nil, http.StatusNotFound, "nope")

		bad := []struct{ query, msg string }{
			{"", "action: required"},
			{"?action=play", "action: must be"},
			{"?action=subscribe&endpoints=0", "endpoints"},
			{"?action=subscribe&endpoints=x", "endpoints"},
			{"?action=subscribe&strict=maybe", "strict"},
			{"?action=broadcast&transcode=true", "transcode"},
			{"?action=broadcast&geozone=eu", "geozone"},
		}
		for _, tc := range bad {
			e.wantError(asNobody, "GET", "/event/live/other"+tc.query, nil, http.StatusBadRequest, tc.msg)
		}
		e.wantError(asNobody, "GET", "/event/onlyscope?action=broadcast", nil, http.StatusBadRequest, "path")
	})
}

func TestEvents_StatsAndList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		o := e.node("g", store.RoleOrigin, "10.0.0.1", 1935, "local")
		e1 := e.node("g", store.RoleEdge, "10.0.0.2", 1935, "local")
		e.report(o, store.Report{Streams: []store.StreamReport{{Scope: "live", Name: "s1", Publishing: true, Subscribers: 2}}})
		e.report(e1, store.Report{Streams: []store.StreamReport{{Scope: "live", Name: "s1", Subscribers: 7}}})

		var s streamStats
		e.want(asNobody, "GET", "/event/live/s1/stats", nil, http.StatusOK, &s)
		if s.Name != "s1" || s.Scope != "/live" || s.ServerAddress != "10.0.0.1" || s.CurrentSubscribers != 9 || s.StartTime == 0 || s.Region != "local" {
			t.Errorf("stats = %+v", s)
		}
		e.wantError(asNobody, "GET", "/event/live/nope/stats", nil, http.StatusNotFound, "not published")

		var list []listedStream
		e.want(asNobody, "GET", "/event/list", nil, http.StatusOK, &list)
		want := []listedStream{
			{Type: "origin", Name: "s1", Scope: "/live", ServerAddress: "10.0.0.1", Region: "local"},
			{Type: "edge", Name: "s1", Scope: "/live", ServerAddress: "10.0.0.2", Region: "local"},
		}
		if diff := cmp.Diff(want, list); diff != "" {
			t.Errorf("list (-want +got):\n%s", diff)
		}
	})
}

// FuzzSplitEventPath checks that an accepted path splits into a non-empty
// scope and stream that rebuild it.
func FuzzSplitEventPath(f *testing.F) {
	for _, tc := range eventPaths {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		scope, name, stats, err := splitEventPath(p)
		if err != nil {
			if statusOf(err) != http.StatusBadRequest {
				t.Fatalf("splitEventPath(%q) error %v is not a 400", p, err)
			}
			return
		}
		if scope == "" || name == "" || strings.Contains(name, "/") {
			t.Fatalf("splitEventPath(%q) = %q, %q", p, scope, name)
		}
		rebuilt := scope + "/" + name
		if stats {
			rebuilt += "/stats"
		}
		if rebuilt != strings.Trim(p, "/") {
			t.Fatalf("splitEventPath(%q) = %q, %q, %v; rebuilds %q", p, scope, name, stats, rebuilt)
		}
	})
}
