// Package scaler is the autoscaler: it decides how many media nodes each
// role of each node group needs and asks for launches, drains and
// terminations.
//
// Deciding, acting and time are separate. Decide is a pure function of one
// group role's nodes, policy and history, tested by table. Scaler is the
// loop: it ticks, reads the cluster through a small view, keeps the history
// (last operation, alarm and low-load start, idle origins), carries the
// actions out through an actuator, and records each one as a scaling event.
// The trace simulator (internal/sim) drives the same loop in virtual time
// through Step.
//
// A node, as the scaler treats it:
//
//	launch ─▶ PENDING ─▶ RUNNING ─▶ INSERVICE ──drain──▶ draining ──empty or drain timeout──▶ terminate
//	             │          │           │
//	             │          │           └─ FAULT or silent ─┐
//	             └──────────┴─ no registration by the ──────┴─▶ terminate, and launch a replacement
//	                           ping deadline                     if below min or under alarm
//
// One role of one group, from tick to tick:
//
//	         load > alarm threshold               operation wait over
//	steady ─────────────────────────▶ alarm ──────────────────────────▶ launch one ─┐
//	  ▲ ▲                               │ ▲                                          │
//	  │ │   load ≤ threshold            │ └── still above, counting launching ───────┘
//	  │ └───────────────────────────────┘     capacity (wait: CompetitiveGap, or
//	  │                                       CoolDown in rigid mode)
//	  │   load on one node fewer < scale-in threshold for ScaleInWait
//	  └── (or an origin idle for OriginIdle) ──▶ drain least-loaded ──▶ terminate when empty
//
// Below min, the group is refilled at once, without waiting.
package scaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// GroupState is one node group as the scaler sees it.
type GroupState struct {
	// Name is the group's name.
	Name string
	// Roles lists the roles the group scales (origin, edge, ...).
	Roles []RoleState
}

// RoleState is one role of one group: its policy and its nodes. Nodes that
// are gone (terminated and removed) are not listed.
type RoleState struct {
	Role   string
	Policy Policy
	Nodes  []Node
	// Unplaced is the demand the manager could not place on any node of
	// the role lately (see Input.Unplaced): for example the distinct
	// clients refused for lack of capacity since the last evaluation.
	Unplaced int
}

// clusterView is the part of the stream manager the scaler reads. The
// scaler keeps nothing of the returned slices after Step returns, so a view
// may reuse them.
type clusterView interface {
	Groups(ctx context.Context) ([]GroupState, error)
}

// actuator carries decisions out. Launch creates a node of the role in the
// group (it shows in the view as PENDING from then on); Drain stops new
// connections to a node; Terminate deletes it.
type actuator interface {
	Launch(ctx context.Context, group, role, reason string) error
	Drain(ctx context.Context, nodeID, reason string) error
	Terminate(ctx context.Context, nodeID, reason string) error
}

// eventRecorder stores scaling events (the console and API show them).
type eventRecorder interface {
	RecordScalingEvent(ctx context.Context, ev Event) error
}

// Event is one scaling action the loop carried out (or tried to).
type Event struct {
	Time   time.Time
	Group  string
	Role   string
	Action ActionKind
	// Replace marks a launch that replaces a failed launch or a lost node.
	Replace bool
	// NodeID is the drained or terminated node; empty for a launch.
	NodeID string
	Reason string
	// Mode is the scale-out mode in force.
	Mode Mode
	// Load holds the numbers the decision saw.
	Load Load
	// Err is the actuator's error text; empty on success.
	Err string
}

// Config configures the loop. Per-role settings are in each RoleState's
// Policy.
type Config struct {
	// Interval is the time between evaluations; zero means
	// DefaultInterval.
	Interval time.Duration
}

// Scaler is the autoscaling loop.
type Scaler struct {
	interval time.Duration
	view     clusterView
	act      actuator
	rec      eventRecorder
	logger   *slog.Logger

	mu  sync.Mutex // serialises Step
	mem map[roleKey]*memory
}

type roleKey struct{ group, role string }

// memory is the history the loop keeps for one group role.
type memory struct {
	lastOp     time.Time
	alarmSince time.Time
	lowSince   time.Time
	idleSince  map[string]time.Time // node → since when it has had no connections
	drainedAt  map[string]time.Time // node → when it was drained, or first seen draining
	held       string               // last Held text logged, to log changes only
	nodes      []Node               // scratch: the nodes passed to Decide
}

// New returns a loop; it starts nothing. rec may be nil (no events are
// recorded).
func New(cfg Config, view clusterView, act actuator, rec eventRecorder, logger *slog.Logger) *Scaler {
	interval := cfg.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Scaler{
		interval: interval,
		view:     view,
		act:      act,
		rec:      rec,
		logger:   logger,
		mem:      make(map[roleKey]*memory),
	}
}

// Run evaluates every group and role now and then every Interval, until ctx
// ends. A failed step is logged and the loop goes on; Run returns nil when
// ctx ends.
func (s *Scaler) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	s.logger.Info("scaler started", "interval", s.interval)
	for {
		if err := s.Step(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.logger.Warn("scaler step failed", "err", err)
		}
		select {
		case <-ctx.Done():
			s.logger.Info("scaler stopped")
			return nil
		case <-t.C:
		}
	}
}

// Step evaluates every group and role once, as of now, and carries out the
// decisions. It returns the errors of reading the view and of actions that
// failed (the other actions still run). Run calls it on each tick; the
// simulator calls it with virtual time.
func (s *Scaler) Step(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	groups, err := s.view.Groups(ctx)
	if err != nil {
		return fmt.Errorf("read cluster state: %w", err)
	}
	seen := make(map[roleKey]bool)
	var errs []error
	for _, g := range groups {
		for _, r := range g.Roles {
			key := roleKey{g.Name, r.Role}
			seen[key] = true
			if err := s.stepRole(ctx, now, key, r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for key := range s.mem {
		if !seen[key] {
			delete(s.mem, key)
		}
	}
	return errors.Join(errs...)
}

func (s *Scaler) stepRole(ctx context.Context, now time.Time, key roleKey, r RoleState) error {
	m := s.mem[key]
	if m == nil {
		m = &memory{idleSince: make(map[string]time.Time), drainedAt: make(map[string]time.Time)}
		s.mem[key] = m
	}
	m.nodes = append(m.nodes[:0], r.Nodes...)
	nodes := m.nodes
	for i, n := range r.Nodes {
		if n.State == NodeInService && n.Load == 0 {
			if _, ok := m.idleSince[n.ID]; !ok {
				m.idleSince[n.ID] = now
			}
		} else {
			delete(m.idleSince, n.ID)
		}
		if n.IdleSince.IsZero() {
			n.IdleSince = m.idleSince[n.ID]
		}
		if n.Draining && n.DrainingSince.IsZero() {
			// Drained by someone else (the API), or before a restart: the
			// drain timeout counts from when this loop first saw it.
			if _, ok := m.drainedAt[n.ID]; !ok {
				m.drainedAt[n.ID] = now
			}
			n.DrainingSince = m.drainedAt[n.ID]
		}
		nodes[i] = n
	}
	// Forget nodes that are gone; only when a map outgrows the role, so
	// that a steady fleet costs no allocation and the maps stay bounded.
	if len(m.drainedAt) > len(r.Nodes) || len(m.idleSince) > len(r.Nodes) {
		present := make(map[string]bool, len(r.Nodes))
		for _, n := range r.Nodes {
			present[n.ID] = true
		}
		for id := range m.drainedAt {
			if !present[id] {
				delete(m.drainedAt, id)
			}
		}
		for id := range m.idleSince {
			if !present[id] {
				delete(m.idleSince, id)
			}
		}
	}

	d := Decide(Input{
		Group: key.group, Role: key.role, Policy: r.Policy, Nodes: nodes, Now: now,
		LastOperation: m.lastOp, AlarmSince: m.alarmSince, LowSince: m.lowSince, Unplaced: r.Unplaced,
	})
	m.alarmSince, m.lowSince = d.AlarmSince, d.LowSince
	if d.Held != m.held {
		if d.Held != "" {
			s.logger.Debug("scaling held", "group", key.group, "role", key.role, "reason", d.Held)
		}
		m.held = d.Held
	}

	mode := r.Policy.withDefaults().Mode
	var errs []error
	for _, a := range d.Actions {
		var err error
		switch a.Kind {
		case ActionLaunch:
			err = s.act.Launch(ctx, key.group, key.role, a.Reason)
		case ActionDrain:
			err = s.act.Drain(ctx, a.NodeID, a.Reason)
		case ActionTerminate:
			err = s.act.Terminate(ctx, a.NodeID, a.Reason)
		}
		ev := Event{
			Time: now, Group: key.group, Role: key.role, Action: a.Kind, Replace: a.Replace, NodeID: a.NodeID,
			Reason: a.Reason, Mode: mode, Load: d.Load,
		}
		if err != nil {
			ev.Err = err.Error()
			errs = append(errs, fmt.Errorf("%s (group %s, role %s, node %q, reason %q): %w",
				a.Kind, key.group, key.role, a.NodeID, a.Reason, err))
		} else {
			s.logger.Info("scaling action", "group", key.group, "role", key.role, "action", a.Kind.String(),
				"node_id", a.NodeID, "reason", a.Reason)
			switch a.Kind {
			case ActionLaunch:
				m.lastOp = now
			case ActionDrain:
				m.lastOp = now
				m.drainedAt[a.NodeID] = now
			case ActionTerminate:
				delete(m.drainedAt, a.NodeID)
				delete(m.idleSince, a.NodeID)
			}
		}
		if s.rec != nil {
			if rerr := s.rec.RecordScalingEvent(ctx, ev); rerr != nil {
				errs = append(errs, fmt.Errorf("record scaling event: %w", rerr))
			}
		}
	}
	return errors.Join(errs...)
}
