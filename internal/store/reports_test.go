package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func TestReports_StreamsReplacedKeepingStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		mustGroup(t, st, "g")
		o := mustNode(t, st, store.Node{Group: "g", Role: store.RoleOrigin, Address: "o"})
		e := mustNode(t, st, store.Node{Group: "g", Role: store.RoleEdge, Address: "e"})
		for _, n := range []store.Node{o, e} {
			if _, err := st.SetNodeState(ctx, n.ID, store.NodeInService, "test"); err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.UnixMilli(1_700_000_000_000)
		r1 := store.Report{
			Connections: 3, Publishers: 2, Subscribers: 1, BytesInPerS: 1000, BytesOutPerS: 2000,
			CPU: 0.5, MemoryBytes: 1 << 20, At: t0, Streams: []store.StreamReport{
				{Scope: "live", Name: "a", Publishing: true, Subscribers: 1},
				{Scope: "live/room1", Name: "b", Publishing: true},
			},
		}
		if err := st.SaveReport(ctx, o.ID, r1); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveReport(ctx, e.ID, store.Report{At: t0, Streams: []store.StreamReport{{Scope: "live", Name: "a", Subscribers: 7}}}); err != nil {
			t.Fatal(err)
		}
		got, err := st.LastReport(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := r1
		want.NodeID, want.StreamCount, want.Streams = o.ID, 2, nil
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("LastReport() (-want +got):\n%s", diff)
		}
		n, _ := st.Node(ctx, o.ID)
		if !n.LastReport.Equal(t0) || !n.LastPing.Equal(t0) {
			t.Errorf("node last report/ping = %v/%v, want %v", n.LastReport, n.LastPing, t0)
		}

		origin, err := st.FindStream(ctx, "live", "a")
		if err != nil || origin.ID != o.ID {
			t.Errorf("FindStream(live, a) = %d, %v; want origin %d", origin.ID, err, o.ID)
		}
		if _, err := st.FindStream(ctx, "live", "zzz"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindStream(unknown) = %v, want ErrNotFound", err)
		}

		// The next report drops b, keeps a (with its start time) and adds c.
		t1 := t0.Add(10 * time.Second)
		r2 := store.Report{At: t1, Streams: []store.StreamReport{
			{Scope: "live", Name: "a", Publishing: true, Subscribers: 4},
			{Scope: "live", Name: "c", Publishing: true},
		}}
		if err := st.SaveReport(ctx, o.ID, r2); err != nil {
			t.Fatal(err)
		}
		ss, err := st.Streams(ctx, store.StreamFilter{NodeID: o.ID})
		if err != nil {
			t.Fatal(err)
		}
		wantStreams := []store.Stream{
			{NodeID: o.ID, Node: o.Identifier, Group: "g", Scope: "live", Name: "a", Role: store.StreamOrigin, Subscribers: 4, StartedAt: t0, UpdatedAt: t1},
			{NodeID: o.ID, Node: o.Identifier, Group: "g", Scope: "live", Name: "c", Role: store.StreamOrigin, StartedAt: t1, UpdatedAt: t1},
		}
		if diff := cmp.Diff(wantStreams, ss); diff != "" {
			t.Errorf("Streams(origin) (-want +got):\n%s", diff)
		}
		filters := []struct {
			name string
			f    store.StreamFilter
			want int
		}{
			{"all", store.StreamFilter{}, 3},
			{"scope+name", store.StreamFilter{Scope: "live", Name: "a"}, 2},
			{"edge role", store.StreamFilter{Role: store.StreamEdge}, 1},
			{"group", store.StreamFilter{Group: "g"}, 3},
			{"other group", store.StreamFilter{Group: "x"}, 0},
			{"in service", store.StreamFilter{InService: true}, 3},
		}
		for _, tc := range filters {
			ss, err := st.Streams(ctx, tc.f)
			if err != nil || len(ss) != tc.want {
				t.Errorf("Streams(%s) = %d streams, %v; want %d", tc.name, len(ss), err, tc.want)
			}
		}
		// An empty report removes every stream of the node.
		if err := st.SaveReport(ctx, o.ID, store.Report{}); err != nil {
			t.Fatal(err)
		}
		if ss, _ := st.Streams(ctx, store.StreamFilter{NodeID: o.ID}); len(ss) != 0 {
			t.Errorf("streams after empty report = %v", ss)
		}
		rs, err := st.Reports(ctx, "g")
		if err != nil || len(rs) != 2 {
			t.Errorf("Reports(g) = %v, %v; want 2", rs, err)
		}
		if rs, _ := st.Reports(ctx, "x"); len(rs) != 0 {
			t.Errorf("Reports(x) = %v, want none", rs)
		}
		if rs, _ := st.Reports(ctx, ""); len(rs) != 2 {
			t.Errorf("Reports(all) = %v, want 2", rs)
		}
	})
}

func TestReports_Errors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		if err := st.SaveReport(ctx, 42, store.Report{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SaveReport(unknown node) = %v, want ErrNotFound", err)
		}
		if _, err := st.LastReport(ctx, 42); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LastReport(unknown node) = %v, want ErrNotFound", err)
		}
		mustGroup(t, st, "g")
		o := mustNode(t, st, store.Node{Group: "g", Role: store.RoleOrigin})
		if err := st.SaveReport(ctx, o.ID, store.Report{Streams: []store.StreamReport{{Scope: "live", Name: "a", Publishing: true}}}); err != nil {
			t.Fatal(err)
		}
		// A stream on a node that is not INSERVICE has no origin.
		if _, err := st.FindStream(ctx, "live", "a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindStream(pending origin) = %v, want ErrNotFound", err)
		}
		ss, _ := st.Streams(ctx, store.StreamFilter{InService: true})
		if diff := cmp.Diff([]store.Stream(nil), ss, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Streams(in service) (-want +got):\n%s", diff)
		}
	})
}
