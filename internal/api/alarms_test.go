package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func TestAlarms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var a alarmJSON
		e.want(asAdmin, "GET", "/admin/alarm/scaleout/default?type=edge", nil, http.StatusOK, &a)
		want := alarmJSON{
			ID: a.ID, Type: "SCALEOUTALARM", Metric: "CONNECTIONS", Unit: "PERCENTAGE", Threshold: 60,
			Comparator: "GREATERTHAN", TargetType: "GROUP", Role: "edge",
		}
		if diff := cmp.Diff(want, a); diff != "" || a.ID == 0 {
			t.Errorf("GET alarm (-want +got):\n%s", diff)
		}
		e.want(asAdmin, "POST", "/admin/alarm/scaleout/default?type=edge&threshold=80", nil, http.StatusOK, &a)
		if a.Threshold != 80 {
			t.Errorf("POST alarm threshold = %d, want 80", a.Threshold)
		}
		e.want(asAdmin, "GET", "/admin/alarm/scaleout/default?type=edge", nil, http.StatusOK, &a)
		if a.Threshold != 80 {
			t.Errorf("GET after POST threshold = %d, want 80", a.Threshold)
		}
		e.want(asAdmin, "GET", "/admin/alarm/scaleout/default?type=origin", nil, http.StatusOK, &a)
		if a.Threshold != 60 {
			t.Errorf("origin threshold = %d, want 60", a.Threshold)
		}
		bad := []struct{ method, query, msg string }{
			{"GET", "", "type: required"},
			{"GET", "?type=mixer", "type: must be one of"},
			{"POST", "?type=edge", "threshold"},
			{"POST", "?type=edge&threshold=0", "threshold"},
			{"POST", "?type=edge&threshold=101", "threshold"},
			{"POST", "?type=edge&threshold=x", "threshold"},
			{"POST", "?threshold=50", "type: required"},
		}
		for _, tc := range bad {
			e.wantError(asAdmin, tc.method, "/admin/alarm/scaleout/default"+tc.query, nil, http.StatusBadRequest, tc.msg)
		}
	})
}

func TestScalingEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var evs []map[string]any
		e.want(asAdmin, "GET", "/admin/scalingevents", nil, http.StatusOK, &evs)
		if evs == nil || len(evs) != 0 {
			t.Errorf("GET scalingevents on empty store = %v, want []", evs)
		}
		t0 := time.UnixMilli(1_700_000_000_000)
		for i, g := range []string{"a", "b", "a"} {
			if _, err := st.AddScalingEvent(t.Context(), store.ScalingEvent{
				Group: g, Role: store.RoleEdge, Action: store.ActionScaleOut,
				Reason: "edge load 190 of 300 (63%) above alarm 60%", Details: json.RawMessage(`{"load":190}`), At: t0.Add(time.Duration(i) * time.Second),
			}); err != nil {
				t.Fatal(err)
			}
		}
		var got []store.ScalingEvent
		e.want(asAdmin, "GET", "/admin/scalingevents?group=a", nil, http.StatusOK, &got)
		if len(got) != 2 || got[0].Group != "a" || !got[0].At.Equal(t0.Add(2*time.Second)) || string(got[0].Details) != `{"load":190}` {
			t.Errorf("GET scalingevents?group=a = %+v", got)
		}
		e.want(asAdmin, "GET", "/admin/scalingevents?limit=1", nil, http.StatusOK, &got)
		if len(got) != 1 {
			t.Errorf("limit=1 returned %d events", len(got))
		}
		e.want(asAdmin, "GET", "/admin/scalingevents?since=1700000001000", nil, http.StatusOK, &got)
		if len(got) != 2 {
			t.Errorf("since returned %d events, want 2", len(got))
		}
		e.wantError(asAdmin, "GET", "/admin/scalingevents?limit=0", nil, http.StatusBadRequest, "limit")
		e.wantError(asAdmin, "GET", "/admin/scalingevents?since=yesterday", nil, http.StatusBadRequest, "since")
	})
}
