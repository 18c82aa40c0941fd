// Package sim replays a load trace against the autoscaler in virtual time,
// to compare scaling policies (shoal sim).
//
// The simulation steps one virtual second at a time over the trace. Each
// second:
//
//  1. The trace gives the audience: publishers and subscribers who want to
//     be connected.
//  2. Sessions end and start again (churn): each connection leaves its
//     node with probability 1/session-length per second (kept as a
//     deterministic running fraction per node) and reconnects at once.
//  3. If the audience shrank, the waiting connections leave first, then
//     the connected ones, in proportion to each node's load.
//  4. Waiting connections (new arrivals, churned ones, and ones refused
//     before, which retry every second) are placed on in-service,
//     non-draining nodes of their role, least-loaded first, up to each
//     node's connection capacity (100 %, not the alarm threshold).
//  5. Whatever could not be placed is refused for this second: that second
//     counts as over capacity, and each refused subscriber adds one
//     refused subscriber-second.
//  6. On each evaluation tick the strategy acts: the scaler loop
//     (scaler.Scaler.Step, the code the manager runs, with the sim
//     provider), the Kubernetes HPA rule, or nothing (fixed fleet). A
//     terminated node's connections are back to waiting and reconnect the
//     next second.
//
// Instances come from provider/sim: Pending for the boot delay, then in
// service (the node registers as soon as it runs). The scaler sees current
// loads on every tick (reports are not delayed). Node time is billed from
// launch to termination, booting and draining included.
//
// Every strategy starts at second 0 with the fleet it wants for the
// audience at second 0 already in service (fixed: its whole fleet).
package sim

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/shoal-live/shoal/internal/provider"
	provsim "github.com/shoal-live/shoal/internal/provider/sim"
	"github.com/shoal-live/shoal/internal/scaler"
)

// Strategy is how the fleet is sized.
type Strategy int

// Strategies.
const (
	// StrategyScaler runs Shoal's autoscaler (in Config.Mode).
	StrategyScaler Strategy = iota + 1
	// StrategyFixed keeps a fixed fleet sized for the trace's peak: enough
	// nodes of each role that the peak sits at the alarm threshold, the
	// utilisation the autoscaler aims for. It never refuses anyone the
	// autoscaler would not.
	StrategyFixed
	// StrategyHPA applies the Kubernetes Horizontal Pod Autoscaler rule.
	StrategyHPA
)

// String returns "scaler", "fixed" or "hpa".
func (s Strategy) String() string {
	switch s {
	case StrategyScaler:
		return "scaler"
	case StrategyFixed:
		return "fixed"
	case StrategyHPA:
		return "hpa"
	default:
		return fmt.Sprintf("Strategy(%d)", int(s))
	}
}

// HPA configures the Kubernetes HPA baseline. Its defaults are
// Kubernetes': 15 s sync period, 300 s scale-down stabilisation window,
// 10 % tolerance, scale-up by at most max(4 pods, 100 %) per period.
type HPA struct {
	SyncPeriod    time.Duration
	Stabilization time.Duration
	Tolerance     float64
}

// Config configures a simulation. Zero fields take DefaultConfig's values.
type Config struct {
	// Strategy is the fleet strategy; zero is StrategyScaler.
	Strategy Strategy
	// Mode is the scaler's scale-out mode; it overrides the policies'.
	Mode scaler.Mode
	// BootDelay is the time from launch to in service.
	BootDelay time.Duration
	// FailureRate is the fraction of launches that never come up.
	FailureRate float64
	// Seed seeds the failed-launch draw.
	Seed uint64
	// Interval is the scaler's evaluation interval.
	Interval time.Duration
	// Edge and Origin are the policies of the two roles, capacities
	// included (subscribers per edge, publishers per origin).
	Edge, Origin scaler.Policy
	// SubscriberSession and PublisherSession are mean session lengths
	// (churn); negative means connections stay until the audience shrinks.
	SubscriberSession, PublisherSession time.Duration
	// HPA configures StrategyHPA. Its target utilisation is each role's
	// alarm threshold.
	HPA HPA
}

// DefaultConfig returns the defaults: the scaler in competitive mode, 30 s
// boot, the scaler's default policies with the capacities of Red5 Pro's
// sample launch configuration (300 subscribers per edge, 30 publishers per
// origin), min 1 and max 100 edges and 20 origins (so that max does not
// shape the comparison), 15 min viewing sessions, 1 h publishing sessions.
func DefaultConfig() Config {
	edge, origin := scaler.DefaultPolicy(), scaler.DefaultPolicy()
	edge.Min, edge.Max, edge.Capacity = 1, 100, 300
	origin.Min, origin.Max, origin.Capacity = 1, 20, 30
	return Config{
		Strategy:          StrategyScaler,
		Mode:              scaler.ModeCompetitive,
		BootDelay:         30 * time.Second,
		Interval:          scaler.DefaultInterval,
		Edge:              edge,
		Origin:            origin,
		SubscriberSession: 15 * time.Minute,
		PublisherSession:  time.Hour,
		HPA:               HPA{SyncPeriod: 15 * time.Second, Stabilization: 300 * time.Second, Tolerance: 0.1},
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Strategy == 0 {
		c.Strategy = d.Strategy
	}
	if c.Mode == 0 {
		c.Mode = d.Mode
	}
	if c.BootDelay == 0 {
		c.BootDelay = d.BootDelay
	}
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Edge == (scaler.Policy{}) {
		c.Edge = d.Edge
	}
	if c.Origin == (scaler.Policy{}) {
		c.Origin = d.Origin
	}
	if c.SubscriberSession == 0 {
		c.SubscriberSession = d.SubscriberSession
	}
	if c.PublisherSession == 0 {
		c.PublisherSession = d.PublisherSession
	}
	if c.HPA.SyncPeriod == 0 {
		c.HPA.SyncPeriod = d.HPA.SyncPeriod
	}
	if c.HPA.Stabilization == 0 {
		c.HPA.Stabilization = d.HPA.Stabilization
	}
	if c.HPA.Tolerance == 0 {
		c.HPA.Tolerance = d.HPA.Tolerance
	}
	c.Edge.Mode, c.Origin.Mode = c.Mode, c.Mode
	return c
}

// Validate checks the configuration after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Strategy < StrategyScaler || c.Strategy > StrategyHPA {
		return fmt.Errorf("sim strategy %v: want scaler, fixed or hpa", c.Strategy)
	}
	if c.BootDelay < 0 {
		return fmt.Errorf("sim boot delay must not be negative, got %s", c.BootDelay)
	}
	if c.Interval < time.Second || c.Interval%time.Second != 0 {
		return fmt.Errorf("sim interval must be a whole number of seconds, got %s", c.Interval)
	}
	if c.HPA.SyncPeriod < time.Second || c.HPA.SyncPeriod%time.Second != 0 {
		return fmt.Errorf("sim hpa sync period must be a whole number of seconds, got %s", c.HPA.SyncPeriod)
	}
	if c.FailureRate < 0 || c.FailureRate > 1 {
		return fmt.Errorf("sim failure rate must be between 0 and 1, got %g", c.FailureRate)
	}
	if err := c.Edge.Validate(); err != nil {
		return fmt.Errorf("sim edge policy: %w", err)
	}
	if err := c.Origin.Validate(); err != nil {
		return fmt.Errorf("sim origin policy: %w", err)
	}
	return nil
}

// Result is what a simulation measured.
type Result struct {
	// Strategy and Mode say what ran (Mode only matters for the scaler).
	Strategy Strategy
	Mode     scaler.Mode
	// Duration is the simulated time.
	Duration time.Duration
	// EdgeNodeHours and OriginNodeHours are billed node time.
	EdgeNodeHours, OriginNodeHours float64
	// SecondsOverCapacity counts seconds in which someone was refused.
	SecondsOverCapacity int
	// RefusedSubscriberSeconds sums refused subscribers over seconds;
	// PeakRefusedSubscribers is the most refused in one second.
	RefusedSubscriberSeconds int64
	PeakRefusedSubscribers   int
	// RefusedPublisherSeconds sums refused publishers over seconds.
	RefusedPublisherSeconds int64
	// Disconnected counts connections cut by terminations (a drain timeout,
	// or a baseline that removes busy nodes); they reconnect elsewhere, but
	// the viewer sees a stall.
	Disconnected int
	// Launches, Drains and Terminations count scale operations.
	Launches, Drains, Terminations int
	// PeakEdges and PeakOrigins are the most nodes of each role at once.
	PeakEdges, PeakOrigins int
}

// NodeHours is the total billed node time.
func (r Result) NodeHours() float64 { return r.EdgeNodeHours + r.OriginNodeHours }

// Run simulates the trace under cfg. It is deterministic: the same trace
// and config give the same result.
func Run(trace Trace, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if len(trace.Points) < 2 {
		return Result{}, fmt.Errorf("sim trace has %d points, want at least two", len(trace.Points))
	}
	s := newSimulator(trace, cfg)
	return s.run()
}

// epoch is the virtual wall-clock time of second 0.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// simulator is one run.
type simulator struct {
	cfg   Config
	trace Trace
	now   time.Time
	prov  *provsim.Provider
	edge  *role
	orig  *role
	res   Result
	hpa   *hpaState
}

// role is the nodes of one role and the connections waiting for them.
type role struct {
	name     string
	policy   scaler.Policy
	session  time.Duration
	nodes    []*node       // creation order
	waiting  int           // connections wanting a node: new, churned, refused
	initial  int           // nodes of the initial fleet (their boot is not billed)
	eligible []*node       // scratch for placement
	view     []scaler.Node // scratch for Groups
}

// node is one simulated media node.
type node struct {
	id            string
	createdAt     time.Time
	readyAt       time.Time // zero: never (failed launch)
	load          int
	draining      bool
	drainingSince time.Time
	churn         float64 // fraction of a connection due to leave
}

func (n *node) inService(now time.Time) bool { return !n.readyAt.IsZero() && !now.Before(n.readyAt) }

func newSimulator(trace Trace, cfg Config) *simulator {
	s := &simulator{cfg: cfg, trace: trace}
	s.prov = provsim.New(provsim.Config{
		BootDelay: cfg.BootDelay, FailureRate: cfg.FailureRate, Seed: cfg.Seed,
		Now: func() time.Time { return s.now },
	})
	s.edge = &role{name: scaler.RoleEdge, policy: cfg.Edge, session: cfg.SubscriberSession}
	s.orig = &role{name: scaler.RoleOrigin, policy: cfg.Origin, session: cfg.PublisherSession}
	s.res.Strategy, s.res.Mode = cfg.Strategy, cfg.Mode
	return s
}

func (s *simulator) roles() [2]*role { return [2]*role{s.orig, s.edge} }

func (s *simulator) run() (Result, error) {
	ctx := context.Background()
	pubs0, subs0 := s.trace.At(0)
	peakPubs, peakSubs := s.trace.Peak()
	var sizes [2]int
	for i, r := range s.roles() {
		demand := []int{pubs0, subs0}[i]
		if s.cfg.Strategy == StrategyFixed {
			demand = []int{peakPubs, peakSubs}[i]
		}
		sizes[i] = max(r.policy.Min, nodesFor(demand, r.policy))
	}
	// The initial fleet boots before second 0.
	s.now = epoch.Add(-s.cfg.BootDelay)
	for i, r := range s.roles() {
		for range sizes[i] {
			if err := s.launch(ctx, r); err != nil {
				return Result{}, err
			}
		}
		r.initial = sizes[i]
	}
	s.res.Launches = 0

	var sc *scaler.Scaler
	switch s.cfg.Strategy {
	case StrategyScaler:
		sc = scaler.New(scaler.Config{Interval: s.cfg.Interval}, s, s, nil, slog.New(slog.DiscardHandler))
	case StrategyHPA:
		s.hpa = &hpaState{}
	}
	interval := int(s.cfg.Interval / time.Second)
	sync := int(s.cfg.HPA.SyncPeriod / time.Second)
	secs := int(s.trace.Duration() / time.Second)
	for t := range secs {
		s.now = epoch.Add(time.Duration(t) * time.Second)
		pubs, subs := s.trace.At(time.Duration(t) * time.Second)
		refusedPubs := s.orig.second(s.now, pubs)
		refusedSubs := s.edge.second(s.now, subs)
		if refusedPubs > 0 || refusedSubs > 0 {
			s.res.SecondsOverCapacity++
		}
		s.res.RefusedPublisherSeconds += int64(refusedPubs)
		s.res.RefusedSubscriberSeconds += int64(refusedSubs)
		s.res.PeakRefusedSubscribers = max(s.res.PeakRefusedSubscribers, refusedSubs)
		switch {
		case sc != nil && t%interval == 0:
			if err := sc.Step(ctx, s.now); err != nil {
				return Result{}, fmt.Errorf("sim second %d: %w", t, err)
			}
		case s.hpa != nil && t%sync == 0:
			if err := s.hpaStep(ctx); err != nil {
				return Result{}, fmt.Errorf("sim second %d: %w", t, err)
			}
		}
		s.res.PeakOrigins = max(s.res.PeakOrigins, len(s.orig.nodes))
		s.res.PeakEdges = max(s.res.PeakEdges, len(s.edge.nodes))
	}
	s.now = epoch.Add(time.Duration(secs) * time.Second)
	s.res.Duration = time.Duration(secs) * time.Second
	usage := s.prov.Usage()
	boot := s.cfg.BootDelay
	s.res.EdgeNodeHours = (usage[scaler.RoleEdge] - time.Duration(s.edge.initial)*boot).Hours()
	s.res.OriginNodeHours = (usage[scaler.RoleOrigin] - time.Duration(s.orig.initial)*boot).Hours()
	return s.res, nil
}

// nodesFor is how many nodes put demand at the alarm threshold or under.
func nodesFor(demand int, p scaler.Policy) int {
	threshold := p.AlarmThreshold
	if threshold == 0 {
		threshold = scaler.DefaultAlarmThreshold
	}
	per := float64(p.Capacity) * float64(threshold) / 100
	return int(math.Ceil(float64(demand) / per))
}

// second moves one role through one second (steps 2-5 of the package
// comment) and returns how many connections were refused.
func (r *role) second(now time.Time, want int) int {
	// Churn.
	if r.session > 0 {
		rate := float64(time.Second) / float64(r.session)
		for _, n := range r.nodes {
			n.churn += float64(n.load) * rate
			k := min(int(n.churn), n.load)
			n.churn -= float64(k)
			n.load -= k
			r.waiting += k
		}
	}
	// Departures, or arrivals.
	connected := 0
	for _, n := range r.nodes {
		connected += n.load
	}
	switch have := connected + r.waiting; {
	case want > have:
		r.waiting += want - have
	case want < have:
		leave := have - want
		fromWaiting := min(leave, r.waiting)
		r.waiting -= fromWaiting
		r.depart(leave-fromWaiting, connected)
	}
	// Placement.
	if r.waiting == 0 {
		return 0
	}
	r.eligible = r.eligible[:0]
	for _, n := range r.nodes {
		if !n.draining && n.inService(now) && n.load < r.policy.Capacity {
			r.eligible = append(r.eligible, n)
		}
	}
	r.waiting = fill(r.eligible, r.waiting, r.policy.Capacity)
	return r.waiting
}

// depart removes k connections from the nodes in proportion to their load
// (the remainder from the most loaded first).
func (r *role) depart(k, connected int) {
	if k <= 0 || connected == 0 {
		return
	}
	left := k
	for _, n := range r.nodes {
		d := int(int64(k) * int64(n.load) / int64(connected))
		n.load -= d
		left -= d
	}
	for left > 0 {
		most := slices.MaxFunc(r.nodes, func(a, b *node) int { return cmp.Compare(a.load, b.load) })
		if most.load == 0 {
			return
		}
		most.load--
		left--
	}
}

// fill places up to k connections on nodes, raising the least-loaded ones
// first (water-filling), none above capacity, and returns what is left.
func fill(nodes []*node, k, capacity int) int {
	if k == 0 || len(nodes) == 0 {
		return k
	}
	slices.SortStableFunc(nodes, func(a, b *node) int { return cmp.Compare(a.load, b.load) })
	level := nodes[0].load
	i := 1 // nodes[:i] are at level
	for k > 0 {
		for i < len(nodes) && nodes[i].load <= level {
			i++
		}
		next := capacity
		if i < len(nodes) {
			next = min(nodes[i].load, capacity)
		}
		need := (next - level) * i
		if need <= k {
			k -= need
			level = next
			if level == capacity {
				break
			}
			continue
		}
		q, rem := k/i, k%i
		for j := range i {
			nodes[j].load = level + q
			if j < rem {
				nodes[j].load++
			}
		}
		return 0
	}
	for j := range i {
		nodes[j].load = level
	}
	return k
}

// launch creates one node of r.
func (s *simulator) launch(ctx context.Context, r *role) error {
	in, err := s.prov.Create(ctx, provider.Spec{Group: "sim", Role: r.name})
	if err != nil {
		return err
	}
	n := &node{id: in.ID, createdAt: in.CreatedAt}
	if at, ok := s.prov.ReadyAt(in.ID); ok {
		n.readyAt = at
	}
	r.nodes = append(r.nodes, n)
	s.res.Launches++
	return nil
}

// terminate deletes a node; its connections wait to reconnect.
func (s *simulator) terminate(ctx context.Context, r *role, id string) error {
	i := slices.IndexFunc(r.nodes, func(n *node) bool { return n.id == id })
	if i < 0 {
		return fmt.Errorf("terminate %s: %w", id, provider.ErrNotFound)
	}
	if err := s.prov.Delete(ctx, id); err != nil {
		return err
	}
	r.waiting += r.nodes[i].load
	s.res.Disconnected += r.nodes[i].load
	r.nodes = slices.Delete(r.nodes, i, i+1)
	s.res.Terminations++
	return nil
}

func (s *simulator) roleOf(name string) (*role, error) {
	switch name {
	case scaler.RoleEdge:
		return s.edge, nil
	case scaler.RoleOrigin:
		return s.orig, nil
	}
	return nil, fmt.Errorf("sim has no role %q", name)
}

func (s *simulator) find(id string) (*role, *node) {
	for _, r := range s.roles() {
		for _, n := range r.nodes {
			if n.id == id {
				return r, n
			}
		}
	}
	return nil, nil
}

// Groups is the scaler's view of the simulated cluster: one group with an
// origin role and an edge role. A node is PENDING until the provider's boot
// delay has passed (its ReadyAt, cached at launch), then in service.
// The node slices are reused from call to call: the scaler keeps nothing
// of a view after its step.
func (s *simulator) Groups(context.Context) ([]scaler.GroupState, error) {
	g := scaler.GroupState{Name: "sim", Roles: make([]scaler.RoleState, 0, 2)}
	for _, r := range s.roles() {
		rs := scaler.RoleState{Role: r.name, Policy: r.policy, Nodes: r.view[:0], Unplaced: r.waiting}
		for _, n := range r.nodes {
			sn := scaler.Node{ID: n.id, State: scaler.NodePending, Draining: n.draining, Load: n.load, CreatedAt: n.createdAt}
			if n.inService(s.now) {
				sn.State, sn.RegisteredAt, sn.LastReport, sn.DrainingSince = scaler.NodeInService, n.readyAt, s.now, n.drainingSince
			}
			rs.Nodes = append(rs.Nodes, sn)
		}
		r.view = rs.Nodes
		g.Roles = append(g.Roles, rs)
	}
	return []scaler.GroupState{g}, nil
}

// Launch implements the scaler's actuator.
func (s *simulator) Launch(ctx context.Context, _, roleName, _ string) error {
	r, err := s.roleOf(roleName)
	if err != nil {
		return err
	}
	return s.launch(ctx, r)
}

// Drain implements the scaler's actuator.
func (s *simulator) Drain(_ context.Context, nodeID, _ string) error {
	_, n := s.find(nodeID)
	if n == nil {
		return fmt.Errorf("drain %s: %w", nodeID, provider.ErrNotFound)
	}
	n.draining, n.drainingSince = true, s.now
	s.res.Drains++
	return nil
}

// Terminate implements the scaler's actuator.
func (s *simulator) Terminate(ctx context.Context, nodeID, _ string) error {
	r, n := s.find(nodeID)
	if n == nil {
		return fmt.Errorf("terminate %s: %w", nodeID, provider.ErrNotFound)
	}
	return s.terminate(ctx, r, nodeID)
}
