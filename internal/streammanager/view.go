package streammanager

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-live/shoal/internal/scaler"
	"github.com/shoal-live/shoal/internal/store"
)

// view is the cluster as the autoscaler reads it (scaler's clusterView),
// built from the store on every evaluation.
type view struct{ m *Manager }

// Groups returns every group that is not being deleted, with one role
// state per role of its scale policy's default region that may have nodes
// (maxLimit above 0) or has some. Capacities come from the group's launch
// configuration, thresholds from the scale-out alarms, loads from the
// nodes' latest reports, and unplaced demand from the lookups the API
// refused since the last evaluation.
func (v view) Groups(ctx context.Context) ([]scaler.GroupState, error) {
	m := v.m
	groups, err := m.st.Groups(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := m.st.Nodes(ctx, store.NodeFilter{})
	if err != nil {
		return nil, err
	}
	reports, err := m.st.Reports(ctx, "")
	if err != nil {
		return nil, err
	}
	refused := m.refusals.take()
	byNode := make(map[int64]store.Report, len(reports))
	for _, r := range reports {
		byNode[r.NodeID] = r
	}
	byGroupRole := map[roleKey][]store.Node{}
	for _, n := range nodes {
		k := roleKey{n.Group, n.Role}
		byGroupRole[k] = append(byGroupRole[k], n)
	}
	thresholds := map[store.Role]int{}
	threshold := func(role store.Role) (int, error) {
		if t, ok := thresholds[role]; ok {
			return t, nil
		}
		a, err := m.st.Alarm(ctx, role)
		if err != nil {
			return 0, err
		}
		thresholds[role] = a.Threshold
		return a.Threshold, nil
	}

	out := make([]scaler.GroupState, 0, len(groups))
	for _, g := range groups {
		if g.State == store.GroupDeleting {
			continue
		}
		p, err := m.st.Policy(ctx, g.ScalePolicy)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		lc, err := m.st.LaunchConfig(ctx, g.LaunchConfig)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		gs := scaler.GroupState{Name: g.Name}
		for _, t := range defaultTargets(p) {
			k := roleKey{g.Name, t.Role}
			if t.MaxLimit == 0 && len(byGroupRole[k]) == 0 {
				continue
			}
			th, err := threshold(t.Role)
			if err != nil {
				return nil, fmt.Errorf("group %s: %w", g.Name, err)
			}
			capacity := 0
			if lt, ok := lc.Target(t.Role); ok {
				capacity = lt.ConnectionCapacity
			}
			rs := scaler.RoleState{Role: string(t.Role), Policy: m.scalerPolicy(t, capacity, th), Unplaced: refused[k]}
			for _, n := range byGroupRole[k] {
				if sn, ok := scalerNode(n, byNode); ok {
					rs.Nodes = append(rs.Nodes, sn)
				}
			}
			gs.Roles = append(gs.Roles, rs)
		}
		out = append(out, gs)
	}
	return out, nil
}

// defaultTargets returns the targets of the policy's default region.
func defaultTargets(p store.ScalePolicy) []store.PolicyTarget {
	for _, r := range p.Regions {
		if r.Name == store.DefaultRegion {
			return r.Targets
		}
	}
	return nil
}

// scalerPolicy combines a policy target, the role's capacity and alarm
// threshold, and the autoscale settings. A zero time in the policy means
// no wait (Red5 Pro's meaning), except scaleInWaitTime, which then takes
// autoscale.scale_in_wait.
func (m *Manager) scalerPolicy(t store.PolicyTarget, capacity, threshold int) scaler.Policy {
	a := m.cfg.Autoscale
	mode, err := scaler.ParseMode(a.ScaleOutMode)
	if err != nil {
		mode = scaler.ModeCompetitive // unreachable: config.Validate checked it
	}
	// The scale-in threshold must stay under the alarm threshold, or a
	// removal could raise the alarm by itself.
	scaleIn := max(min(a.ScaleInThreshold, threshold-1), 1)
	inWait := t.ScaleInWaitTime
	if inWait == 0 {
		inWait = a.ScaleInWait
	}
	return scaler.Policy{
		Min: t.MinLimit, Max: t.MaxLimit, Capacity: capacity,
		Mode: mode, AlarmThreshold: threshold, ScaleInThreshold: scaleIn,
		CoolDown:       orOff(t.CoolDownPeriod),
		CompetitiveGap: orOff(a.CompetitiveGap),
		WarmUp:         orOff(t.EstimatedWarmUpTime),
		ScaleOutWait:   orOff(t.ScaleOutWaitTime),
		ScaleInWait:    orOff(inWait),
		DrainTimeout:   a.DrainTimeout,
		PingDeadline:   a.NewNodePingTimeout,
		OriginIdle:     a.OriginIdle,
		// The monitor marks a silent node FAULT after missed_reports
		// intervals; the scaler's own judgement is the backstop.
		ReportTimeout: 2 * time.Duration(m.cfg.Cluster.MissedReports) * m.cfg.Cluster.ReportInterval,
	}
}

// orOff maps a zero duration to the scaler's "rule off" (negative): in the
// scaler a zero would mean its default.
func orOff(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// scalerNode converts a node record; TERMINATING nodes are gone for the
// scaler.
func scalerNode(n store.Node, reports map[int64]store.Report) (scaler.Node, bool) {
	sn := scaler.Node{ID: n.Identifier, Draining: n.Draining, CreatedAt: n.CreatedAt, LastReport: n.LastReport}
	switch n.State {
	case store.NodePending:
		sn.State = scaler.NodePending
	case store.NodeRunning:
		sn.State = scaler.NodeRunning
	case store.NodeInService, store.NodeFault:
		sn.State = scaler.NodeInService
		if n.State == store.NodeFault {
			sn.State = scaler.NodeFault
		}
		// Registration set the last ping, and every report refreshes it.
		sn.RegisteredAt = n.LastPing
		if sn.RegisteredAt.IsZero() {
			sn.RegisteredAt = n.StateChangedAt
		}
	case store.NodeTerminating:
		return scaler.Node{}, false
	default:
		return scaler.Node{}, false
	}
	if r, ok := reports[n.ID]; ok {
		switch n.Role {
		case store.RoleEdge:
			sn.Load = r.Subscribers
		case store.RoleOrigin:
			sn.Load = r.Publishers
		default:
			sn.Load = r.Connections
		}
	}
	return sn, true
}
