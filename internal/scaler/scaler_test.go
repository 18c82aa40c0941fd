package scaler_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-live/shoal/internal/provider"
	"github.com/shoal-live/shoal/internal/provider/sim"
	"github.com/shoal-live/shoal/internal/scaler"
)

// manager is a minimal stream manager over the sim provider: it is the
// scaler's view, actuator and event recorder. Running instances are in
// service; the subscribers (load) are spread evenly over the in-service
// edges that are not draining, and draining edges lose theirs at once.
type manager struct {
	p      *sim.Provider
	policy scaler.Policy

	mu         sync.Mutex
	load       int
	draining   map[string]time.Time
	events     []scaler.Event
	failLaunch error
}

func newManager(p *sim.Provider, policy scaler.Policy, load int) *manager {
	return &manager{p: p, policy: policy, load: load, draining: make(map[string]time.Time)}
}

func (m *manager) setLoad(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.load = n
}

func (m *manager) Groups(ctx context.Context) ([]scaler.GroupState, error) {
	insts, err := m.p.List(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	nodes := make([]scaler.Node, 0, len(insts))
	var serving []int
	for _, in := range insts {
		n := scaler.Node{ID: in.ID, State: scaler.NodePending, CreatedAt: in.CreatedAt}
		if in.State == provider.StateRunning {
			ready, _ := m.p.ReadyAt(in.ID)
			n.State, n.RegisteredAt, n.LastReport = scaler.NodeInService, ready, now
		}
		if since, ok := m.draining[in.ID]; ok {
			n.Draining, n.DrainingSince = true, since
		} else if n.State == scaler.NodeInService {
			serving = append(serving, len(nodes))
		}
		nodes = append(nodes, n)
	}
	for i, idx := range serving {
		share := m.load / len(serving)
		if i < m.load%len(serving) {
			share++
		}
		nodes[idx].Load = share
	}
	return []scaler.GroupState{{Name: "g1", Roles: []scaler.RoleState{{Role: scaler.RoleEdge, Policy: m.policy, Nodes: nodes}}}}, nil
}

func (m *manager) Launch(ctx context.Context, group, role, _ string) error {
	m.mu.Lock()
	err := m.failLaunch
	m.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = m.p.Create(ctx, provider.Spec{Group: group, Role: role})
	return err
}

func (m *manager) Drain(_ context.Context, nodeID, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.draining[nodeID] = time.Now()
	return nil
}

func (m *manager) Terminate(ctx context.Context, nodeID, _ string) error {
	m.mu.Lock()
	delete(m.draining, nodeID)
	m.mu.Unlock()
	return m.p.Delete(ctx, nodeID)
}

func (m *manager) RecordScalingEvent(_ context.Context, ev scaler.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, ev)
	return nil
}

func (m *manager) count(kind scaler.ActionKind) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ev := range m.events {
		if ev.Action == kind && ev.Err == "" {
			n++
		}
	}
	return n
}

func (m *manager) live() int {
	insts, _ := m.p.List(context.Background())
	return len(insts)
}

// start runs s until the test's bubble ends; the returned function stops it
// and checks that Run returned nil.
func start(t *testing.T, s *scaler.Scaler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	}
}

func edgePolicy(mode scaler.Mode) scaler.Policy {
	p := scaler.DefaultPolicy()
	p.Min, p.Max, p.Capacity, p.Mode = 1, 20, 100, mode
	return p
}

// bootOne creates one in-service edge before the scaler starts.
func bootOne(t *testing.T, p *sim.Provider) {
	t.Helper()
	if _, err := p.Create(t.Context(), provider.Spec{Group: "g1", Role: scaler.RoleEdge}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	time.Sleep(30 * time.Second)
}

func TestScaler_CompetitiveLaunchesWhileAlarmPersists(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := sim.New(sim.Config{BootDelay: 30 * time.Second})
		bootOne(t, p)
		m := newManager(p, edgePolicy(scaler.ModeCompetitive), 1000)
		stop := start(t, scaler.New(scaler.Config{Interval: 5 * time.Second}, m, m, m, slog.New(slog.DiscardHandler)))
		defer stop()

		// 1000 subscribers at 60 % of 100 need 17 edges: 16 launches, one
		// per 5 s tick, counting the ones still booting.
		time.Sleep(40 * time.Second)
		synctest.Wait()
		if got := m.count(scaler.ActionLaunch); got != 9 {
			t.Errorf("launches after 40 s = %d, want 9 (one per 5 s tick, from t=0)", got)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if got := m.count(scaler.ActionLaunch); got != 16 {
			t.Errorf("launches after 5 min = %d, want 16 (then launching capacity covers the alarm)", got)
		}
		if got := m.live(); got != 17 {
			t.Errorf("edges = %d, want 17", got)
		}
		m.mu.Lock()
		ev := m.events[0]
		m.mu.Unlock()
		want := "edge load 1000% (1000 subscribers / 100 capacity) > 60% threshold; 1 in service, 0 launching; max 20"
		if ev.Reason != want || ev.Group != "g1" || ev.Role != scaler.RoleEdge || ev.Mode != scaler.ModeCompetitive {
			t.Errorf("first event = %+v, want reason %q in g1/edge, competitive", ev, want)
		}
	})
}

func TestScaler_RigidHonoursCoolDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := sim.New(sim.Config{BootDelay: 30 * time.Second})
		bootOne(t, p)
		m := newManager(p, edgePolicy(scaler.ModeRigid), 1000)
		stop := start(t, scaler.New(scaler.Config{}, m, m, nil, slog.New(slog.DiscardHandler)))
		defer stop()

		time.Sleep(4 * time.Minute)
		synctest.Wait()
		if got := p.Stats().Created - 1; got != 2 {
			t.Errorf("launches in 4 min with a 3 min cool-down = %d, want 2 (t=0 and t=180s)", got)
		}
	})
}

func TestScaler_ScaleInDrainsThenTerminates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := sim.New(sim.Config{BootDelay: 30 * time.Second})
		for range 5 {
			if _, err := p.Create(t.Context(), provider.Spec{Group: "g1", Role: scaler.RoleEdge}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(30 * time.Second)
		m := newManager(p, edgePolicy(scaler.ModeCompetitive), 250)
		stop := start(t, scaler.New(scaler.Config{}, m, m, m, slog.New(slog.DiscardHandler)))
		defer stop()

		// 250 on 5 edges: 62.5 % on one fewer, no scale-in.
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if got := m.live(); got != 5 {
			t.Fatalf("edges at 250 subscribers = %d, want 5", got)
		}
		// 30 subscribers stay under 20 % on two edges (15 %), not on one.
		m.setLoad(30)
		time.Sleep(55 * time.Second)
		synctest.Wait()
		if got := m.count(scaler.ActionDrain); got != 0 {
			t.Errorf("drains before the 1 min scale-in wait = %d, want 0", got)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if got := m.live(); got != 2 {
			t.Errorf("edges after scale-in = %d, want 2", got)
		}
		if d, tm := m.count(scaler.ActionDrain), m.count(scaler.ActionTerminate); d != 3 || tm != 3 {
			t.Errorf("drains, terminations = %d, %d; want 3, 3", d, tm)
		}
	})
}

func TestScaler_ReplacesFailedLaunches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := sim.New(sim.Config{BootDelay: 30 * time.Second, FailureRate: 1})
		m := newManager(p, edgePolicy(scaler.ModeCompetitive), 0)
		stop := start(t, scaler.New(scaler.Config{}, m, m, m, slog.New(slog.DiscardHandler)))
		defer stop()

		time.Sleep(pingDeadlinePlus(time.Second))
		synctest.Wait()
		st := p.Stats()
		if st.Created != 2 || st.Deleted != 1 {
			t.Errorf("after the ping deadline: created %d, deleted %d; want 2, 1 (failed launch replaced)", st.Created, st.Deleted)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		var found bool
		for _, ev := range m.events {
			found = found || (ev.Action == scaler.ActionTerminate && strings.Contains(ev.Reason, "ping deadline"))
		}
		if !found {
			t.Errorf("no terminate event naming the ping deadline in %+v", m.events)
		}
	})
}

// pingDeadlinePlus is the ping deadline plus d, rounded up to the
// next 5 s tick.
func pingDeadlinePlus(d time.Duration) time.Duration {
	return (scaler.DefaultPingDeadline + d + scaler.DefaultInterval - 1).Truncate(scaler.DefaultInterval)
}

func TestScaler_FailedActionIsRecordedAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := sim.New(sim.Config{BootDelay: 30 * time.Second})
		m := newManager(p, edgePolicy(scaler.ModeRigid), 0)
		m.failLaunch = errors.New("quota exceeded")
		s := scaler.New(scaler.Config{}, m, m, m, slog.New(slog.DiscardHandler))

		err := s.Step(t.Context(), time.Now())
		if err == nil || !strings.Contains(err.Error(), "quota exceeded") || !strings.Contains(err.Error(), "below min") {
			t.Errorf("Step = %v, want the launch error with its reason", err)
		}
		m.mu.Lock()
		if len(m.events) != 1 || m.events[0].Err != "quota exceeded" {
			t.Errorf("events = %+v, want one launch event with the error", m.events)
		}
		m.failLaunch = nil
		m.mu.Unlock()

		// A failed launch is not an operation: the rigid cool-down does
		// not hold the retry.
		time.Sleep(time.Second)
		if err := s.Step(t.Context(), time.Now()); err != nil {
			t.Errorf("second Step = %v", err)
		}
		if got := p.Stats().Created; got != 1 {
			t.Errorf("created after retry = %d, want 1", got)
		}
	})
}

type brokenView struct{}

func (brokenView) Groups(context.Context) ([]scaler.GroupState, error) {
	return nil, errors.New("database is locked")
}

func TestScaler_ViewErrorKeepsRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newManager(sim.New(sim.Config{}), edgePolicy(scaler.ModeCompetitive), 0)
		s := scaler.New(scaler.Config{}, brokenView{}, m, m, slog.New(slog.DiscardHandler))
		if err := s.Step(t.Context(), time.Now()); err == nil || !strings.Contains(err.Error(), "database is locked") {
			t.Errorf("Step = %v, want the view's error", err)
		}
		stop := start(t, s)
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
	})
}
