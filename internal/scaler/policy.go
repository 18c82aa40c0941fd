package scaler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Roles the scaler knows how to name loads for. Any other role string works
// and is treated like an edge (scaled in on low load).
const (
	RoleOrigin = "origin"
	RoleEdge   = "edge"
)

// Mode is the scale-out mode (seed 004).
type Mode int

// Scale-out modes.
const (
	// ModeCompetitive, the default, waits only CompetitiveGap between
	// operations while the alarm persists, counting capacity that is
	// already launching.
	ModeCompetitive Mode = iota + 1
	// ModeRigid waits CoolDown after every operation.
	ModeRigid
)

// String returns "competitive" or "rigid".
func (m Mode) String() string {
	switch m {
	case ModeCompetitive:
		return "competitive"
	case ModeRigid:
		return "rigid"
	default:
		return "Mode(" + strconv.Itoa(int(m)) + ")"
	}
}

// ParseMode parses "competitive" or "rigid" (any case); empty means
// competitive, the default.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "competitive":
		return ModeCompetitive, nil
	case "rigid":
		return ModeRigid, nil
	default:
		return 0, fmt.Errorf("scale-out mode %q: want competitive or rigid", s)
	}
}

// Defaults. The Red5 Pro values are quoted where Red5 documents one; the
// rest were chosen with the trace simulator (internal/sim, bench/traces) and
// the reasoning is given for each.
const (
	// DefaultInterval is how often the loop evaluates every group and role:
	// half of the nodes' 10 s reporting interval, so a new report is acted
	// on within 5 s, and equal to DefaultCompetitiveGap, so competitive
	// mode can act on every tick while an alarm persists.
	DefaultInterval = 5 * time.Second
	// DefaultAlarmThreshold is Red5 Pro's scale-out alarm default (60 %).
	DefaultAlarmThreshold = 60
	// DefaultScaleInThreshold (percent) is the load the remaining nodes
	// must stay under, for ScaleInWait, once one node is removed. Red5
	// documents no scale-in threshold. The gap to the alarm threshold is
	// the hysteresis: a removal never re-triggers the alarm by itself,
	// because the load after it is under this threshold, which is under
	// the alarm threshold. Lower means fewer, emptier drains (fewer viewers
	// cut off when a drain times out) and more idle capacity. Measured with
	// internal/sim's defaults on bench/traces/steady_day.csv (and on two
	// such days back to back), against a fleet sized for the peak:
	//
	//	threshold  node-hours saved  viewers cut off by drain timeouts
	//	20 %       49 % (46 %)         53 (516)
	//	30 %       52 % (50 %)        406 (1173)
	//	45 %       55 % (53 %)        975 (2192)
	//
	// 20 % keeps most of the saving for a fraction of the disruption.
	DefaultScaleInThreshold = 20
	// DefaultCompetitiveGap is the pause between operations in
	// competitive mode ("a few seconds", seed 004).
	DefaultCompetitiveGap = 5 * time.Second
	// DefaultCoolDown is Red5 Pro's example coolDownPeriod (180000 ms).
	DefaultCoolDown = 180 * time.Second
	// DefaultWarmUp is Red5 Pro's example estimatedWarmUpTime (150000 ms):
	// the time from launch to a stable INSERVICE node. A node younger than
	// this that is not in service yet counts as capacity on its way.
	DefaultWarmUp = 150 * time.Second
	// DefaultPingDeadline is Red5 Pro's newNodePingTimeThreshold
	// (150000 ms): a new node that has not registered by then is a failed
	// launch.
	DefaultPingDeadline = 150 * time.Second
	// DefaultScaleInWait is how long the low-load condition must hold
	// before an edge is drained. Red5's scaleInWaitTime defaults to 0; one
	// minute rides out the dips of a noisy audience (a stream ending and
	// its viewers moving to the next) without keeping an idle fleet for
	// long.
	DefaultScaleInWait = time.Minute
	// DefaultDrainTimeout bounds how long a draining node keeps its last
	// connections before it is terminated anyway (they reconnect to the
	// remaining nodes). It is Red5 Pro SM2's SUNSET state timeout
	// (600000 ms). With 15-minute viewing sessions half of a drained
	// edge's viewers leave on their own in ten minutes; 5 minutes would
	// cut off 40 % more viewers (74 instead of 53 on steady_day) to save
	// 0.3 % of the node-hours.
	DefaultDrainTimeout = 10 * time.Minute
	// DefaultOriginIdle is how long an origin must have no publishers
	// before it is drained: long enough for a publisher that dropped to
	// reconnect (OBS retries within seconds to a minute).
	DefaultOriginIdle = 5 * time.Minute
	// DefaultReportTimeout is how long an in-service node may go without a
	// report before the scaler treats it as FAULT: six 10 s reporting
	// intervals (SM2's R5AS_NODE_STATUS is also 60 s).
	DefaultReportTimeout = 60 * time.Second
)

// Policy is everything Decide needs to know about one role of one group:
// the scale policy target (min, max, waits), the launch configuration's
// connection capacity, the scale-out alarm threshold, the scale-out mode and
// the manager's timeouts.
//
// A zero field takes its default (DefaultPolicy), except Min, Max and
// Capacity, which are used as they are. A negative duration turns its rule
// off: CoolDown, CompetitiveGap, ScaleOutWait and ScaleInWait mean no wait,
// WarmUp counts every not-yet-in-service node as launching capacity,
// PingDeadline never fails a launch, DrainTimeout waits for a drain to
// empty, OriginIdle never drains an idle origin, ReportTimeout never judges
// a node stale.
type Policy struct {
	// Min is the number of nodes kept in service or launching.
	Min int
	// Max bounds the nodes of the role, launching and draining included
	// (FAULT and TERMINATING nodes are not counted).
	Max int
	// Capacity is the connections one node takes (connectionCapacity):
	// subscribers for an edge, publishers for an origin.
	Capacity int
	// Mode is the scale-out mode; zero is competitive.
	Mode Mode
	// AlarmThreshold is the scale-out alarm in percent of capacity (1-100).
	AlarmThreshold int
	// ScaleInThreshold is the scale-in threshold in percent of capacity,
	// below AlarmThreshold. See DefaultScaleInThreshold.
	ScaleInThreshold int
	// CoolDown is the wait after any operation in rigid mode.
	CoolDown time.Duration
	// CompetitiveGap is the wait between operations in competitive mode.
	CompetitiveGap time.Duration
	// WarmUp is the expected time from launch to in service.
	WarmUp time.Duration
	// ScaleOutWait is how long the alarm must persist before a scale-out.
	ScaleOutWait time.Duration
	// ScaleInWait is how long the low-load condition must persist before a
	// scale-in.
	ScaleInWait time.Duration
	// DrainTimeout is how long a draining node may keep connections.
	DrainTimeout time.Duration
	// PingDeadline is how long a new node has to register.
	PingDeadline time.Duration
	// OriginIdle is how long an origin must have no publishers to be
	// drained.
	OriginIdle time.Duration
	// ReportTimeout is how long an in-service node may go without a report
	// before it is treated as FAULT.
	ReportTimeout time.Duration
}

// DefaultPolicy returns the defaults, with Min 1, Max 10 and no capacity
// (Capacity comes from the launch configuration).
func DefaultPolicy() Policy {
	return Policy{
		Min:              1,
		Max:              10,
		Mode:             ModeCompetitive,
		AlarmThreshold:   DefaultAlarmThreshold,
		ScaleInThreshold: DefaultScaleInThreshold,
		CoolDown:         DefaultCoolDown,
		CompetitiveGap:   DefaultCompetitiveGap,
		WarmUp:           DefaultWarmUp,
		ScaleInWait:      DefaultScaleInWait,
		DrainTimeout:     DefaultDrainTimeout,
		PingDeadline:     DefaultPingDeadline,
		OriginIdle:       DefaultOriginIdle,
		ReportTimeout:    DefaultReportTimeout,
	}
}

// withDefaults fills zero fields as the Policy comment says.
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Mode == 0 {
		p.Mode = d.Mode
	}
	if p.AlarmThreshold == 0 {
		p.AlarmThreshold = d.AlarmThreshold
	}
	if p.ScaleInThreshold == 0 {
		p.ScaleInThreshold = d.ScaleInThreshold
	}
	for _, f := range []struct {
		dst *time.Duration
		def time.Duration
	}{
		{&p.CoolDown, d.CoolDown},
		{&p.CompetitiveGap, d.CompetitiveGap},
		{&p.WarmUp, d.WarmUp},
		{&p.ScaleOutWait, d.ScaleOutWait},
		{&p.ScaleInWait, d.ScaleInWait},
		{&p.DrainTimeout, d.DrainTimeout},
		{&p.PingDeadline, d.PingDeadline},
		{&p.OriginIdle, d.OriginIdle},
		{&p.ReportTimeout, d.ReportTimeout},
	} {
		if *f.dst == 0 {
			*f.dst = f.def
		}
	}
	return p
}

// Validate checks the policy after defaults and returns every problem.
func (p Policy) Validate() error {
	p = p.withDefaults()
	var errs []error
	if p.Min < 0 {
		errs = append(errs, fmt.Errorf("min must not be negative, got %d", p.Min))
	}
	if p.Max < p.Min {
		errs = append(errs, fmt.Errorf("max %d must be at least min %d", p.Max, p.Min))
	}
	if p.Capacity <= 0 {
		errs = append(errs, fmt.Errorf("capacity must be positive, got %d", p.Capacity))
	}
	if p.Mode != ModeCompetitive && p.Mode != ModeRigid {
		errs = append(errs, fmt.Errorf("mode %v: want competitive or rigid", p.Mode))
	}
	if p.AlarmThreshold < 1 || p.AlarmThreshold > 100 {
		errs = append(errs, fmt.Errorf("alarm threshold must be 1-100 percent, got %d", p.AlarmThreshold))
	}
	if p.ScaleInThreshold < 1 || p.ScaleInThreshold >= p.AlarmThreshold {
		errs = append(errs, fmt.Errorf("scale-in threshold must be 1 to %d percent (below the alarm threshold), got %d",
			p.AlarmThreshold-1, p.ScaleInThreshold))
	}
	return errors.Join(errs...)
}

// on reports whether a duration rule is active (positive after defaults).
func on(d time.Duration) bool { return d > 0 }
