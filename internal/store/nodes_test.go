package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func TestNodeState_CanBecome(t *testing.T) {
	tests := []struct {
		from, to store.NodeState
		want     bool
	}{
		{store.NodePending, store.NodeRunning, true},
		{store.NodePending, store.NodeInService, true},
		{store.NodeRunning, store.NodeInService, true},
		{store.NodeRunning, store.NodePending, false},
		{store.NodeInService, store.NodeFault, true},
		{store.NodeInService, store.NodeTerminating, true},
		{store.NodeInService, store.NodeRunning, false},
		{store.NodeFault, store.NodeInService, true},
		{store.NodeFault, store.NodeTerminating, true},
		{store.NodeTerminating, store.NodeInService, false},
		{store.NodeTerminating, store.NodeFault, false},
	}
	for _, tc := range tests {
		if got := tc.from.CanBecome(tc.to); got != tc.want {
			t.Errorf("%s.CanBecome(%s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestNodes_Lifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		mustGroup(t, st, "g")
		v0 := st.NodesVersion()
		n, err := st.CreateNode(ctx, store.Node{
			Group: "g", Role: store.RoleEdge, Region: "local", Zone: "local-a",
			LaunchConfig: "lc", Capacity: 300, ProviderID: "pid-1",
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.NodesVersion() == v0 {
			t.Error("NodesVersion did not move on CreateNode")
		}
		if !strings.HasPrefix(n.Identifier, "node-local-a-") || n.State != store.NodePending || n.ID == 0 {
			t.Errorf("CreateNode() = %+v, want generated identifier, PENDING", n)
		}
		if _, err := st.CreateNode(ctx, store.Node{Identifier: n.Identifier, Group: "g", Role: store.RoleEdge}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateNode(same identifier) = %v, want ErrConflict", err)
		}
		if _, err := st.CreateNode(ctx, store.Node{Group: "nope", Role: store.RoleEdge}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CreateNode(unknown group) = %v, want ErrNotFound", err)
		}
		if _, err := st.CreateNode(ctx, store.Node{Group: "g", Role: "mixer"}); err == nil {
			t.Error("CreateNode(unknown role) succeeded")
		}
		// Two nodes in the same zone and millisecond get distinct identifiers.
		n2 := mustNode(t, st, store.Node{Group: "g", Role: store.RoleEdge, Zone: "local-a"})
		n3 := mustNode(t, st, store.Node{Group: "g", Role: store.RoleEdge, Zone: "local-a"})
		if n2.Identifier == n3.Identifier {
			t.Errorf("identifiers collide: %s", n2.Identifier)
		}

		if _, err := st.SetNodeState(ctx, n.ID, store.NodeRunning, "instance up"); err != nil {
			t.Fatal(err)
		}
		if err := st.SetNodeInstance(ctx, n.ID, store.Instance{Address: "10.0.0.5", RTMPPort: 1935}); err != nil {
			t.Fatal(err)
		}
		reg, err := st.RegisterNode(ctx, n.ID, store.Registration{
			Address: "10.0.0.5", RTMPPort: 1936, HTTPPort: 5080,
			Version: "v1", Parents: []string{"10.0.0.1:1935"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if reg.State != store.NodeInService || reg.LastPing.IsZero() || reg.RTMPPort != 1936 {
			t.Errorf("RegisterNode() = %+v, want INSERVICE with last ping", reg)
		}
		if g, _ := st.Group(ctx, "g"); g.State != store.GroupActive {
			t.Errorf("group state = %s after first node in service, want active", g.State)
		}
		got, err := st.NodeByIdentifier(ctx, n.Identifier)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(reg, got); diff != "" {
			t.Errorf("NodeByIdentifier() mismatch (-want +got):\n%s", diff)
		}
		if got.ProviderID != "pid-1" {
			t.Errorf("ProviderID = %q, SetNodeInstance with empty id must keep it", got.ProviderID)
		}
		if _, err := st.SetNodeState(ctx, n.ID, store.NodeRunning, "x"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("INSERVICE → RUNNING = %v, want ErrConflict", err)
		}
		same, err := st.SetNodeState(ctx, n.ID, store.NodeInService, "again")
		if err != nil || same.State != store.NodeInService {
			t.Errorf("SetNodeState(same) = %+v, %v; want no-op", same, err)
		}
		if _, err := st.SetNodeDraining(ctx, n.ID, true, "sunset"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetNodeState(ctx, n.ID, store.NodeFault, "no report for 30s"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetNodeState(ctx, n.ID, store.NodeTerminating, "scale in"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RegisterNode(ctx, n.ID, store.Registration{Address: "x"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("RegisterNode(terminating) = %v, want ErrConflict", err)
		}
		if _, err := st.DeleteNode(ctx, n.ID, "instance gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Node(ctx, n.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Node(deleted) = %v, want ErrNotFound", err)
		}
		if _, err := st.SetNodeState(ctx, n.ID, store.NodeFault, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetNodeState(deleted) = %v, want ErrNotFound", err)
		}
		evs, err := st.NodeEvents(ctx, n.Identifier)
		if err != nil {
			t.Fatal(err)
		}
		var trail []string
		for _, e := range evs {
			trail = append(trail, e.From+">"+e.To+" "+e.Reason)
			if e.At.IsZero() {
				t.Errorf("event %+v has no time", e)
			}
		}
		want := []string{
			">PENDING created",
			"PENDING>RUNNING instance up",
			"RUNNING>INSERVICE registered",
			"INSERVICE>INSERVICE draining: sunset",
			"INSERVICE>FAULT no report for 30s",
			"FAULT>TERMINATING scale in",
			"TERMINATING>REMOVED instance gone",
		}
		if diff := cmp.Diff(want, trail); diff != "" {
			t.Errorf("node events (-want +got):\n%s", diff)
		}
	})
}

func TestNodes_FilterAndAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		mustGroup(t, st, "g1")
		mustGroup(t, st, "g2")
		o := mustNode(t, st, store.Node{Group: "g1", Role: store.RoleOrigin, Address: "127.0.0.1", RTMPPort: 1935})
		e1 := mustNode(t, st, store.Node{Group: "g1", Role: store.RoleEdge, Address: "127.0.0.1", RTMPPort: 1936})
		e2 := mustNode(t, st, store.Node{Group: "g2", Role: store.RoleEdge, Address: "10.0.0.9", RTMPPort: 1935})
		if _, err := st.SetNodeState(ctx, e1.ID, store.NodeInService, "test"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			f    store.NodeFilter
			want []int64
		}{
			{"all", store.NodeFilter{}, []int64{o.ID, e1.ID, e2.ID}},
			{"group", store.NodeFilter{Group: "g1"}, []int64{o.ID, e1.ID}},
			{"role", store.NodeFilter{Role: store.RoleEdge}, []int64{e1.ID, e2.ID}},
			{"group and role", store.NodeFilter{Group: "g1", Role: store.RoleEdge}, []int64{e1.ID}},
			{"states", store.NodeFilter{States: []store.NodeState{store.NodeInService, store.NodeFault}}, []int64{e1.ID}},
			{"pending", store.NodeFilter{States: []store.NodeState{store.NodePending}}, []int64{o.ID, e2.ID}},
			{"none", store.NodeFilter{Group: "nope"}, nil},
		}
		for _, tc := range tests {
			ns, err := st.Nodes(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, n := range ns {
				ids = append(ids, n.ID)
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("Nodes(%s) ids (-want +got):\n%s", tc.name, diff)
			}
		}
		addr := []struct {
			addr    string
			want    int64
			wantErr error
		}{
			{"10.0.0.9", e2.ID, nil},
			{"127.0.0.1:1936", e1.ID, nil},
			{"127.0.0.1", 0, store.ErrConflict},
			{"127.0.0.1:2000", 0, store.ErrNotFound},
			{"10.9.9.9", 0, store.ErrNotFound},
		}
		for _, tc := range addr {
			n, err := st.NodeByAddress(ctx, tc.addr)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && n.ID != tc.want) {
				t.Errorf("NodeByAddress(%q) = %d, %v; want %d, %v", tc.addr, n.ID, err, tc.want, tc.wantErr)
			}
		}
		if err := st.SetNodeParents(ctx, e1.ID, []string{"127.0.0.1:1935"}); err != nil {
			t.Fatal(err)
		}
		if n, _ := st.Node(ctx, e1.ID); len(n.Parents) != 1 || n.HostPort() != "127.0.0.1:1936" {
			t.Errorf("after SetNodeParents: %+v", n)
		}
		if err := st.SetNodeParents(ctx, 999, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetNodeParents(999) = %v, want ErrNotFound", err)
		}
		if err := st.SetNodeInstance(ctx, 999, store.Instance{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetNodeInstance(999) = %v, want ErrNotFound", err)
		}
	})
}

func TestNodeIdentifier(t *testing.T) {
	got := store.NodeIdentifier("us-east-1a", time.UnixMilli(1452600712264))
	if got != "node-us-east-1a-1452600712264" {
		t.Errorf("NodeIdentifier = %q", got)
	}
}
