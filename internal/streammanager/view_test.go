package streammanager

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/scaler"
	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

func TestScalerPolicy(t *testing.T) {
	cfg := config.DefaultManager()
	cfg.Autoscale.ScaleOutMode = "rigid"
	cfg.Autoscale.ScaleInWait = 30 * time.Second
	cfg.Cluster.ReportInterval, cfg.Cluster.MissedReports = 2*time.Second, 3
	m := &Manager{cfg: cfg}
	base := scaler.Policy{
		Min: 1, Max: 4, Capacity: 300, Mode: scaler.ModeRigid, AlarmThreshold: 60, ScaleInThreshold: 20,
		CoolDown: 180 * time.Second, CompetitiveGap: 5 * time.Second, WarmUp: 150 * time.Second,
		ScaleOutWait: -1, ScaleInWait: 30 * time.Second, DrainTimeout: 10 * time.Minute,
		PingDeadline: 150 * time.Second, OriginIdle: 5 * time.Minute, ReportTimeout: 12 * time.Second,
	}
	target := store.PolicyTarget{
		Role: store.RoleEdge, MinLimit: 1, MaxLimit: 4, EstimatedWarmUpTime: 150 * time.Second, CoolDownPeriod: 180 * time.Second,
	}
	tests := []struct {
		name      string
		target    func(*store.PolicyTarget)
		threshold int
		want      func(*scaler.Policy)
	}{
		{name: "defaults", threshold: 60, want: func(*scaler.Policy) {}},
		{
			name: "policy waits win", threshold: 60,
			target: func(pt *store.PolicyTarget) { pt.ScaleInWaitTime, pt.ScaleOutWaitTime = 5*time.Second, 2*time.Second },
			want:   func(p *scaler.Policy) { p.ScaleInWait, p.ScaleOutWait = 5*time.Second, 2*time.Second },
		},
		{
			name: "zero times are off", threshold: 60,
			target: func(pt *store.PolicyTarget) { pt.CoolDownPeriod, pt.EstimatedWarmUpTime = 0, 0 },
			want:   func(p *scaler.Policy) { p.CoolDown, p.WarmUp = -1, -1 },
		},
		{
			name: "scale-in stays under a low alarm", threshold: 15,
			want: func(p *scaler.Policy) { p.AlarmThreshold, p.ScaleInThreshold = 15, 14 },
		},
		{
			name: "alarm at 1 percent", threshold: 1,
			want: func(p *scaler.Policy) { p.AlarmThreshold, p.ScaleInThreshold = 1, 1 },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt := target
			if tc.target != nil {
				tc.target(&pt)
			}
			want := base
			tc.want(&want)
			if diff := cmp.Diff(want, m.scalerPolicy(pt, 300, tc.threshold)); diff != "" {
				t.Errorf("scalerPolicy mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScalerNode(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	reports := map[int64]store.Report{
		1: {Connections: 9, Publishers: 2, Subscribers: 7},
		2: {Connections: 9, Publishers: 2, Subscribers: 7},
	}
	tests := []struct {
		name string
		node store.Node
		want scaler.Node
		ok   bool
	}{
		{
			name: "pending edge", node: store.Node{ID: 3, Identifier: "e", Role: store.RoleEdge, State: store.NodePending, CreatedAt: t0},
			want: scaler.Node{ID: "e", State: scaler.NodePending, CreatedAt: t0}, ok: true,
		},
		{
			name: "in-service edge counts subscribers",
			node: store.Node{ID: 1, Identifier: "e", Role: store.RoleEdge, State: store.NodeInService, CreatedAt: t0, LastPing: t0.Add(time.Second), LastReport: t0.Add(time.Second)},
			want: scaler.Node{ID: "e", State: scaler.NodeInService, Load: 7, CreatedAt: t0, RegisteredAt: t0.Add(time.Second), LastReport: t0.Add(time.Second)},
			ok:   true,
		},
		{
			name: "draining origin counts publishers",
			node: store.Node{ID: 2, Identifier: "o", Role: store.RoleOrigin, State: store.NodeInService, Draining: true, CreatedAt: t0, StateChangedAt: t0},
			want: scaler.Node{ID: "o", State: scaler.NodeInService, Draining: true, Load: 2, CreatedAt: t0, RegisteredAt: t0},
			ok:   true,
		},
		{
			name: "fault", node: store.Node{ID: 4, Identifier: "f", Role: store.RoleEdge, State: store.NodeFault, CreatedAt: t0, StateChangedAt: t0},
			want: scaler.Node{ID: "f", State: scaler.NodeFault, CreatedAt: t0, RegisteredAt: t0}, ok: true,
		},
		{name: "terminating is gone", node: store.Node{ID: 5, Identifier: "t", State: store.NodeTerminating}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scalerNode(tc.node, reports)
			if ok != tc.ok {
				t.Fatalf("scalerNode ok = %t, want %t", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scalerNode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestViewGroups(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.Seed.Group = "g"
	if err := seed(ctx, st, cfg.Seed, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	// A second group being deleted is not scaled.
	if _, err := st.CreateGroup(ctx, store.NodeGroup{Name: "gone", Regions: []string{"local"}, LaunchConfig: "default", ScalePolicy: "default", State: store.GroupDeleting}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetAlarm(ctx, store.RoleEdge, 70); err != nil {
		t.Fatal(err)
	}
	e, err := st.CreateNode(ctx, store.Node{Group: "g", Role: store.RoleEdge, Zone: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RegisterNode(ctx, e.ID, store.Registration{Address: "127.0.0.1", RTMPPort: 1935}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveReport(ctx, e.ID, store.Report{Subscribers: 4, Connections: 5}); err != nil {
		t.Fatal(err)
	}
	m := newManager(cfg, nil, testLogger(t))
	m.st = st
	m.refusals.add(roleKey{"g", store.RoleEdge})
	m.refusals.add(roleKey{"g", store.RoleEdge})

	gs, err := view{m}.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Name != "g" || len(gs[0].Roles) != 2 {
		t.Fatalf("Groups = %+v, want group g with origin and edge", gs)
	}
	edge := gs[0].Roles[1]
	if edge.Role != "edge" || edge.Policy.Capacity != 10 || edge.Policy.AlarmThreshold != 70 || edge.Policy.Max != 3 ||
		edge.Unplaced != 2 || len(edge.Nodes) != 1 || edge.Nodes[0].Load != 4 || edge.Nodes[0].State != scaler.NodeInService {
		t.Errorf("edge role state %+v", edge)
	}
	// Refusals are counted once.
	if gs, err = (view{m}).Groups(ctx); err != nil || gs[0].Roles[1].Unplaced != 0 {
		t.Errorf("second Groups: unplaced %d, %v; want 0", gs[0].Roles[1].Unplaced, err)
	}
}

func TestPublicURLAndRedactDSN(t *testing.T) {
	for _, tc := range []struct {
		configured string
		addr       *net.TCPAddr
		want       string
	}{
		{"", &net.TCPAddr{IP: net.IPv4zero, Port: 5080}, "http://127.0.0.1:5080"},
		{"", &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 80}, "http://10.1.2.3:80"},
		{"", &net.TCPAddr{IP: net.ParseIP("::1"), Port: 5080}, "http://[::1]:5080"},
		{"https://sm.example.com/", &net.TCPAddr{Port: 5080}, "https://sm.example.com"},
	} {
		if got := publicURL(tc.configured, tc.addr); got != tc.want {
			t.Errorf("publicURL(%q, %v) = %q, want %q", tc.configured, tc.addr, got, tc.want)
		}
	}
	for dsn, want := range map[string]string{
		"data/manager/shoal.db":                   "data/manager/shoal.db",
		"postgres://shoal:s3cret@db:5432/shoal":   "postgres://shoal:***@db:5432/shoal",
		"postgresql://u@db/shoal?sslmode=disable": "postgresql://u:***@db/shoal?sslmode=disable",
	} {
		if got := redactDSN(dsn); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}
