package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func TestOpen_ReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a", "shoal.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	if _, err := st.CreateGroup(ctx, store.NodeGroup{Name: "g1", Regions: []string{"r"}}); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	st.Close()
	st, err = store.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	if _, err := st.Group(ctx, "g1"); err != nil {
		t.Errorf("Group after reopen: %v", err)
	}
}

func TestOpen_Memory(t *testing.T) {
	st, err := store.Open(t.Context(), "sqlite::memory:")
	if err != nil {
		t.Fatalf("Open(memory): %v", err)
	}
	defer st.Close()
	if _, err := st.CreateGroup(t.Context(), store.NodeGroup{Name: "g"}); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if gs, err := st.Groups(t.Context()); err != nil || len(gs) != 1 {
		t.Errorf("Groups() = %v, %v; want 1 group", gs, err)
	}
}

func TestOpen_BadPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"); err == nil {
		t.Fatal("Open(unreachable postgres) succeeded")
	}
}

func TestGroups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		g, err := st.CreateGroup(ctx, store.NodeGroup{Name: "g1", Regions: []string{"us-east-1", "eu"}, LaunchConfig: "lc", ScalePolicy: "sp"})
		if err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
		if g.ID == 0 || g.State != store.GroupNew || g.CreatedAt.IsZero() {
			t.Errorf("CreateGroup() = %+v, want id, state new and created_at set", g)
		}
		if _, err := st.CreateGroup(ctx, store.NodeGroup{Name: "g1"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateGroup(duplicate) = %v, want ErrConflict", err)
		}
		got, err := st.Group(ctx, "g1")
		if err != nil {
			t.Fatalf("Group: %v", err)
		}
		if diff := cmp.Diff(g, got); diff != "" {
			t.Errorf("Group() mismatch (-want +got):\n%s", diff)
		}
		if _, err := st.Group(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Group(nope) = %v, want ErrNotFound", err)
		}
		if err := st.SetGroupState(ctx, "g1", store.GroupDeleting); err != nil {
			t.Fatalf("SetGroupState: %v", err)
		}
		if err := st.SetGroupState(ctx, "nope", store.GroupDeleting); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetGroupState(nope) = %v, want ErrNotFound", err)
		}
		if _, err := st.CreateGroup(ctx, store.NodeGroup{Name: "g2"}); err != nil {
			t.Fatal(err)
		}
		gs, err := st.Groups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(gs) != 2 || gs[0].Name != "g1" || gs[0].State != store.GroupDeleting || gs[1].Name != "g2" {
			t.Errorf("Groups() = %+v, want g1 (deleting), g2", gs)
		}
		n := mustNode(t, st, store.Node{Group: "g1", Role: store.RoleOrigin, Zone: "z"})
		if err := st.SaveReport(ctx, n.ID, store.Report{Streams: []store.StreamReport{{Scope: "live", Name: "a", Publishing: true}}}); err != nil {
			t.Fatal(err)
		}
		del, err := st.DeleteGroup(ctx, "g1")
		if err != nil || del.Name != "g1" {
			t.Fatalf("DeleteGroup() = %+v, %v", del, err)
		}
		if _, err := st.Node(ctx, n.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Node after group delete = %v, want ErrNotFound", err)
		}
		if ss, err := st.Streams(ctx, store.StreamFilter{}); err != nil || len(ss) != 0 {
			t.Errorf("Streams after group delete = %v, %v; want none", ss, err)
		}
		evs, err := st.NodeEvents(ctx, n.Identifier)
		if err != nil || len(evs) == 0 || evs[len(evs)-1].To != "REMOVED" || evs[len(evs)-1].Reason != "group g1 deleted" {
			t.Errorf("events of a node of a deleted group = %+v, %v; want a removal", evs, err)
		}
		if _, err := st.DeleteGroup(ctx, "g1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteGroup(again) = %v, want ErrNotFound", err)
		}
	})
}

func mustGroup(t *testing.T, st *store.Store, name string) store.NodeGroup {
	t.Helper()
	g, err := st.CreateGroup(t.Context(), store.NodeGroup{Name: name, Regions: []string{"local"}, LaunchConfig: "lc", ScalePolicy: "sp"})
	if err != nil {
		t.Fatalf("CreateGroup(%s): %v", name, err)
	}
	return g
}

func mustNode(t *testing.T, st *store.Store, n store.Node) store.Node {
	t.Helper()
	n, err := st.CreateNode(t.Context(), n)
	if err != nil {
		t.Fatalf("CreateNode: %v", err)
	}
	return n
}

func TestScalingEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		at := time.UnixMilli(1_700_000_000_000)
		for i, g := range []string{"a", "b", "a"} {
			_, err := st.AddScalingEvent(ctx, store.ScalingEvent{
				Group: g, Role: store.RoleEdge, Action: store.ActionScaleOut, NodeID: "node-x",
				Reason: "load 70% of 300 above alarm 60%", At: at.Add(time.Duration(i) * time.Second),
				Details: json.RawMessage(`{"load":210}`),
			})
			if err != nil {
				t.Fatalf("AddScalingEvent: %v", err)
			}
		}
		if _, err := st.AddScalingEvent(ctx, store.ScalingEvent{Group: "a", Details: json.RawMessage("{")}); err == nil {
			t.Error("AddScalingEvent(bad details) succeeded")
		}
		evs, err := st.ScalingEvents(ctx, store.ScalingEventFilter{Group: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || !evs[0].At.Equal(at.Add(2*time.Second)) || string(evs[0].Details) != `{"load":210}` {
			t.Errorf("ScalingEvents(a) = %+v, want 2 events newest first with details", evs)
		}
		evs, err = st.ScalingEvents(ctx, store.ScalingEventFilter{Since: at.Add(time.Second), Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Group != "a" {
			t.Errorf("ScalingEvents(since, limit 1) = %+v, want the newest", evs)
		}
		e, err := st.AddScalingEvent(ctx, store.ScalingEvent{Group: "c", Action: store.ActionNone})
		if err != nil || string(e.Details) != "{}" || e.At.IsZero() {
			t.Errorf("AddScalingEvent(defaults) = %+v, %v", e, err)
		}
	})
}

func TestAlarms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		for _, r := range store.Roles {
			a, err := st.Alarm(ctx, r)
			if err != nil || a.Threshold != store.DefaultAlarmThreshold || a.ID == 0 {
				t.Errorf("Alarm(%s) = %+v, %v; want default threshold", r, a, err)
			}
		}
		a, err := st.SetAlarm(ctx, store.RoleEdge, 80)
		if err != nil || a.Threshold != 80 || a.Role != store.RoleEdge {
			t.Errorf("SetAlarm(edge, 80) = %+v, %v", a, err)
		}
		if a, _ := st.Alarm(ctx, store.RoleOrigin); a.Threshold != 60 {
			t.Errorf("origin threshold changed to %d", a.Threshold)
		}
		for _, th := range []int{0, 101} {
			if _, err := st.SetAlarm(ctx, store.RoleEdge, th); err == nil {
				t.Errorf("SetAlarm(edge, %d) succeeded", th)
			}
		}
		if _, err := st.Alarm(ctx, "mixer"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Alarm(mixer) = %v, want ErrNotFound", err)
		}
		if _, err := st.SetAlarm(ctx, "mixer", 50); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetAlarm(mixer) = %v, want ErrNotFound", err)
		}
	})
}

func TestPoliciesAndLaunchConfigs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		p := store.ScalePolicy{Name: "sp", Version: "0.0.3", Regions: []store.PolicyRegion{
			{Name: "default", Targets: []store.PolicyTarget{
				{Role: store.RoleEdge, MinLimit: 1, MaxLimit: 20, ScaleAdjustment: 1, CoolDownPeriod: 3 * time.Minute},
				{Role: store.RoleOrigin, MinLimit: 1, MaxLimit: 2, ScaleAdjustment: 1},
			}},
			{Name: "eu", Targets: []store.PolicyTarget{{Role: store.RoleEdge, MaxLimit: 5}}},
		}}
		if err := st.CreatePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := st.CreatePolicy(ctx, p); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreatePolicy(duplicate) = %v, want ErrConflict", err)
		}
		got, err := st.Policy(ctx, "sp")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("Policy() mismatch (-want +got):\n%s", diff)
		}
		if tg, ok := got.Target("eu", store.RoleEdge); !ok || tg.MaxLimit != 5 {
			t.Errorf("Target(eu, edge) = %+v, %v; want the eu rule", tg, ok)
		}
		if tg, ok := got.Target("eu", store.RoleOrigin); !ok || tg.MaxLimit != 2 {
			t.Errorf("Target(eu, origin) = %+v, %v; want the default rule", tg, ok)
		}
		if _, ok := got.Target("eu", store.RoleRelay); ok {
			t.Error("Target(eu, relay) found a rule")
		}
		p.Description = "changed"
		if err := st.UpdatePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdatePolicy(ctx, store.ScalePolicy{Name: "nope"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdatePolicy(nope) = %v, want ErrNotFound", err)
		}
		if _, err := st.Policy(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Policy(nope) = %v, want ErrNotFound", err)
		}

		c := store.LaunchConfig{Name: "lc", Image: "img", Version: "0.0.3", Targets: []store.LaunchTarget{
			{Role: store.RoleEdge, InstanceType: "c5.large", ConnectionCapacity: 300},
			{Role: store.RoleOrigin, InstanceType: "c5.large", ConnectionCapacity: 30, Image: "origin-img"},
		}, Properties: []store.Property{{Name: "a", Value: "b"}}, Metadata: []store.Meta{{Key: "k", Value: "v"}}}
		if err := st.CreateLaunchConfig(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateLaunchConfig(ctx, c); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateLaunchConfig(duplicate) = %v, want ErrConflict", err)
		}
		gotc, err := st.LaunchConfig(ctx, "lc")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, gotc); diff != "" {
			t.Errorf("LaunchConfig() mismatch (-want +got):\n%s", diff)
		}
		if tg, _ := gotc.Target(store.RoleEdge); tg.Image != "img" || tg.ConnectionCapacity != 300 {
			t.Errorf("Target(edge) = %+v, want general image and capacity 300", tg)
		}
		if tg, _ := gotc.Target(store.RoleOrigin); tg.Image != "origin-img" {
			t.Errorf("Target(origin).Image = %q, want origin-img", tg.Image)
		}
		if err := st.UpdateLaunchConfig(ctx, store.LaunchConfig{Name: "nope"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateLaunchConfig(nope) = %v, want ErrNotFound", err)
		}

		mustGroup(t, st, "g")
		if _, err := st.DeletePolicy(ctx, "sp"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("DeletePolicy(in use) = %v, want ErrConflict", err)
		}
		if _, err := st.DeleteLaunchConfig(ctx, "lc"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("DeleteLaunchConfig(in use) = %v, want ErrConflict", err)
		}
		if _, err := st.DeleteGroup(ctx, "g"); err != nil {
			t.Fatal(err)
		}
		if dp, err := st.DeletePolicy(ctx, "sp"); err != nil || dp.Description != "changed" {
			t.Errorf("DeletePolicy() = %+v, %v", dp, err)
		}
		if _, err := st.DeleteLaunchConfig(ctx, "lc"); err != nil {
			t.Errorf("DeleteLaunchConfig: %v", err)
		}
		if _, err := st.DeletePolicy(ctx, "sp"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeletePolicy(again) = %v, want ErrNotFound", err)
		}
		ps, err := st.Policies(ctx)
		if err != nil || len(ps) != 0 {
			t.Errorf("Policies() = %v, %v; want none", ps, err)
		}
		// Put creates, then replaces.
		for _, desc := range []string{"first", "second"} {
			if err := st.PutPolicy(ctx, store.ScalePolicy{Name: "put", Description: desc}); err != nil {
				t.Fatal(err)
			}
			if err := st.PutLaunchConfig(ctx, store.LaunchConfig{Name: "put", Description: desc}); err != nil {
				t.Fatal(err)
			}
		}
		if p, _ := st.Policy(ctx, "put"); p.Description != "second" {
			t.Errorf("PutPolicy twice: description %q, want second", p.Description)
		}
		if c, _ := st.LaunchConfig(ctx, "put"); c.Description != "second" {
			t.Errorf("PutLaunchConfig twice: description %q, want second", c.Description)
		}
		for _, name := range []string{"b", "a"} {
			if err := st.CreateLaunchConfig(ctx, store.LaunchConfig{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := st.LaunchConfigs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "b", "put"}, names(cs), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("LaunchConfigs() names (-want +got):\n%s", diff)
		}
	})
}

func names(cs []store.LaunchConfig) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}
