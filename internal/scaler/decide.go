package scaler

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NodeState is a node's lifecycle state as the manager tracks it.
type NodeState int

// Node states (ARCHITECTURE.md, Control plane).
const (
	// NodePending is asked of the cloud, not up yet.
	NodePending NodeState = iota + 1
	// NodeRunning is up, but the media node has not registered.
	NodeRunning
	// NodeInService is registered and reporting; only these get traffic.
	NodeInService
	// NodeTerminating is being shut down.
	NodeTerminating
	// NodeFault missed a deadline (ping, report) and gets no traffic.
	NodeFault
)

var nodeStateNames = [...]string{
	NodePending: "PENDING", NodeRunning: "RUNNING", NodeInService: "INSERVICE",
	NodeTerminating: "TERMINATING", NodeFault: "FAULT",
}

// String returns the state as Red5 Pro spells it, for example INSERVICE.
func (s NodeState) String() string {
	if s > 0 && int(s) < len(nodeStateNames) {
		return nodeStateNames[s]
	}
	return "NodeState(" + strconv.Itoa(int(s)) + ")"
}

// ParseNodeState parses a state name as String returns it (any case).
func ParseNodeState(s string) (NodeState, error) {
	for i, name := range nodeStateNames {
		if i > 0 && strings.EqualFold(s, name) {
			return NodeState(i), nil
		}
	}
	return 0, fmt.Errorf("node state %q: want PENDING, RUNNING, INSERVICE, TERMINATING or FAULT", s)
}

// Node is what Decide needs to know about one node.
type Node struct {
	ID    string
	State NodeState
	// Draining nodes take no new connections and are terminated when
	// empty or after the drain timeout.
	Draining bool
	// Load is the node's connections: subscribers on an edge, publishers on
	// an origin.
	Load int
	// CreatedAt is when the node was launched.
	CreatedAt time.Time
	// RegisteredAt is when the media node first registered; zero if never.
	RegisteredAt time.Time
	// LastReport is when the node last reported; zero if never.
	LastReport time.Time
	// DrainingSince is when the node started draining.
	DrainingSince time.Time
	// IdleSince is since when the node has had no connections; zero when
	// it has some. The loop fills it.
	IdleSince time.Time
}

// Input is one evaluation of one role of one group.
type Input struct {
	Group  string
	Role   string
	Policy Policy
	Nodes  []Node
	Now    time.Time
	// LastOperation is when the last launch or drain of this group and
	// role was carried out; zero if never.
	LastOperation time.Time
	// AlarmSince is since when the load has been above the alarm threshold,
	// as the previous Decision returned it; zero if it was not.
	AlarmSince time.Time
	// LowSince is since when the scale-in condition has held, as the
	// previous Decision returned it; zero if it did not.
	LowSince time.Time
	// Unplaced is how many connections of this role the manager could not
	// place on any node lately (requests refused because every in-service
	// node was full). They count as load: the manager is the load balancer,
	// so it sees the demand its nodes cannot take, which their reports,
	// capped at capacity, hide. Without it a full fleet looks only 100 %
	// busy, however large the crowd at the door.
	Unplaced int
}

// ActionKind is what an Action does.
type ActionKind int

// Action kinds.
const (
	// ActionLaunch launches one node of the role.
	ActionLaunch ActionKind = iota + 1
	// ActionDrain stops sending new connections to a node.
	ActionDrain
	// ActionTerminate terminates a node.
	ActionTerminate
)

// String returns "launch", "drain" or "terminate".
func (k ActionKind) String() string {
	switch k {
	case ActionLaunch:
		return "launch"
	case ActionDrain:
		return "drain"
	case ActionTerminate:
		return "terminate"
	default:
		return "ActionKind(" + strconv.Itoa(int(k)) + ")"
	}
}

// Action is one thing to do, with the numbers that led to it.
type Action struct {
	Kind ActionKind
	// Replace marks a launch that replaces a failed launch or a lost
	// (FAULT or silent) node.
	Replace bool
	// NodeID is the node to drain or terminate; empty for a launch.
	NodeID string
	// Reason says why, with the numbers Decide saw.
	Reason string
}

// Load is the arithmetic behind a decision.
type Load struct {
	// Connections on in-service, non-draining nodes.
	Connections int `json:"connections"`
	// Unplaced is the demand refused for lack of capacity (Input.Unplaced).
	Unplaced int `json:"unplaced"`
	// InService counts in-service, non-draining nodes.
	InService int `json:"in_service"`
	// Launching counts nodes not yet in service that count as capacity
	// (younger than the warm-up time, and not past the ping deadline).
	Launching int `json:"launching"`
	// Draining counts draining nodes not terminated by this decision.
	Draining int `json:"draining"`
	// Fault counts FAULT nodes, and in-service nodes whose reports stopped.
	Fault int `json:"fault"`
	// Capacity is the connection capacity of one node.
	Capacity int `json:"capacity"`
	// Threshold is the alarm threshold in percent.
	Threshold int `json:"threshold"`
	// Percent is (Connections + Unplaced) / (InService × Capacity) × 100;
	// 0 when no node is in service.
	Percent float64 `json:"percent"`
}

// Decision is what Decide returns: the actions, the numbers, and the alarm
// history to pass back in the next Input.
type Decision struct {
	Actions []Action
	Load    Load
	// Alarm reports whether the load is above the alarm threshold.
	Alarm bool
	// AlarmSince and LowSince are the history for the next Input.
	AlarmSince time.Time
	LowSince   time.Time
	// Held explains why a condition that calls for an operation (alarm,
	// low load, idle origin) led to none: cool-down, max, waits. Empty
	// otherwise.
	Held string
}

// Decide evaluates one role of one group. It is a pure function of its
// input: the loop keeps the history and carries out the actions in order.
//
// The rules, in the order they apply:
//
//  1. A draining node is terminated when it is empty, or when it has been
//     draining for DrainTimeout.
//  2. A PENDING or RUNNING node that has not registered PingDeadline after
//     its launch is a failed launch: terminated, and replaced if the group
//     needs it (rules 4 and 5).
//  3. Load = (connections of in-service, non-draining nodes + unplaced
//     demand) ÷ (their number × Capacity). The alarm fires when load >
//     AlarmThreshold (strictly: at capacity 100 and 60 %, the 61st
//     connection fires it), or when there is unplaced demand and no node
//     in service.
//  4. Below Min (counting in-service and launching nodes): launch up to
//     Min, at once. FAULT nodes are terminated and replaced when the group
//     is below Min or under alarm.
//  5. Under alarm, launch one node if the load is still above the threshold
//     when launching capacity is counted (demand ÷ ((in service +
//     launching) × Capacity)), the alarm has lasted ScaleOutWait, the
//     group is under Max, and the last operation is CoolDown (rigid) or
//     CompetitiveGap (competitive) ago. Failed launches and FAULT nodes
//     being replaced are relaunched without that wait.
//  6. Scale-in, when no alarm and nothing is launching. Origins: an origin
//     without publishers for OriginIdle is drained. Other roles: when the
//     connections (draining nodes' included, since they will come back)
//     would stay under ScaleInThreshold on one node fewer, for ScaleInWait,
//     the least-loaded node is drained. Never below Min, and subject to the
//     same operation wait as rule 5.
func Decide(in Input) Decision {
	var e eval
	e.init(in)
	e.finishDrains()
	e.failLaunches()
	e.scaleOut()
	e.scaleIn()
	return e.d
}

// eval is the working state of one Decide call.
type eval struct {
	in   Input
	p    Policy
	now  time.Time
	unit string // subscribers, publishers, connections
	d    Decision

	// The nodes by category, pointing into in.Nodes (read only).
	active    []*Node // INSERVICE, not draining
	launching []*Node // PENDING/RUNNING within warm-up
	late      []*Node // PENDING/RUNNING past warm-up, before the ping deadline
	draining  []*Node
	stuck     []*Node // past the ping deadline without registering
	fault     []*Node // FAULT, or INSERVICE with stale reports

	conns       int // on active nodes
	demand      int // conns + unplaced
	launched    int // launches decided so far
	replaceable int // failed launches and FAULT nodes terminated this call
}

func (e *eval) init(in Input) {
	*e = eval{in: in, p: in.Policy.withDefaults(), now: in.Now, unit: unitOf(in.Role)}
	e.active = make([]*Node, 0, len(in.Nodes))
	for i := range in.Nodes {
		n := &in.Nodes[i]
		switch n.State {
		case NodePending, NodeRunning:
			switch {
			case n.RegisteredAt.IsZero() && on(e.p.PingDeadline) && e.age(n) >= e.p.PingDeadline:
				e.stuck = append(e.stuck, n)
			case n.Draining:
				e.draining = append(e.draining, n)
			case !on(e.p.WarmUp) || e.age(n) < e.p.WarmUp:
				e.launching = append(e.launching, n)
			default:
				e.late = append(e.late, n)
			}
		case NodeInService:
			switch {
			case e.stale(n):
				e.fault = append(e.fault, n)
			case n.Draining:
				e.draining = append(e.draining, n)
			default:
				e.active = append(e.active, n)
				e.conns += n.Load
			}
		case NodeFault:
			e.fault = append(e.fault, n)
		}
	}
	e.demand = e.conns + max(in.Unplaced, 0)
	c := e.p.Capacity
	e.d.Load = Load{
		Connections: e.conns,
		Unplaced:    max(in.Unplaced, 0),
		InService:   len(e.active),
		Launching:   len(e.launching),
		Fault:       len(e.fault),
		Capacity:    c,
		Threshold:   e.p.AlarmThreshold,
	}
	if len(e.active) > 0 && c > 0 {
		e.d.Load.Percent = 100 * float64(e.demand) / float64(len(e.active)*c)
	}
	e.d.Alarm = c > 0 && e.demand > 0 && e.above(len(e.active))
	if e.d.Alarm {
		e.d.AlarmSince = in.AlarmSince
		if e.d.AlarmSince.IsZero() || e.d.AlarmSince.After(e.now) {
			e.d.AlarmSince = e.now
		}
	}
}

func (e *eval) age(n *Node) time.Duration { return e.now.Sub(n.CreatedAt) }

// stale reports whether an in-service node's reports stopped.
func (e *eval) stale(n *Node) bool {
	if !on(e.p.ReportTimeout) {
		return false
	}
	last := n.LastReport
	if last.IsZero() {
		last = n.RegisteredAt
	}
	return !last.IsZero() && e.now.Sub(last) > e.p.ReportTimeout
}

// above reports whether the demand exceeds the alarm threshold of nodes
// nodes: demand/(nodes×capacity) > threshold%, in integers.
func (e *eval) above(nodes int) bool {
	return int64(e.demand)*100 > int64(e.p.AlarmThreshold)*int64(nodes)*int64(e.p.Capacity)
}

func (e *eval) add(kind ActionKind, id, reason string) {
	e.d.Actions = append(e.d.Actions, Action{Kind: kind, NodeID: id, Reason: reason})
	if kind == ActionLaunch {
		e.launched++
	}
}

// replace adds a launch that replaces a failed launch or a lost node.
func (e *eval) replace(reason string) {
	e.d.Actions = append(e.d.Actions, Action{Kind: ActionLaunch, Replace: true, Reason: "replace lost node: " + reason})
	e.launched++
	e.replaceable--
}

func (e *eval) hold(format string, args ...any) {
	if e.d.Held == "" {
		e.d.Held = fmt.Sprintf(format, args...)
	}
}

// finishDrains applies rule 1.
func (e *eval) finishDrains() {
	keep := e.draining[:0:0]
	for _, n := range e.draining {
		since := "draining"
		if !n.DrainingSince.IsZero() {
			since = "after " + dur(e.now.Sub(n.DrainingSince))
		}
		switch {
		case n.Load == 0:
			e.add(ActionTerminate, n.ID, fmt.Sprintf("%s %s drained: no %s left %s", e.in.Role, n.ID, e.unit, since))
		case on(e.p.DrainTimeout) && !n.DrainingSince.IsZero() && e.now.Sub(n.DrainingSince) >= e.p.DrainTimeout:
			e.add(ActionTerminate, n.ID, fmt.Sprintf("%s %s drain timeout %s reached with %d %s left",
				e.in.Role, n.ID, dur(e.p.DrainTimeout), n.Load, e.unit))
		default:
			keep = append(keep, n)
		}
	}
	e.draining = keep
	e.d.Load.Draining = len(keep)
}

// failLaunches applies rule 2 (termination; replacement is in scaleOut).
func (e *eval) failLaunches() {
	for _, n := range e.stuck {
		e.add(ActionTerminate, n.ID, fmt.Sprintf("%s %s did not register within the %s ping deadline (launched %s ago, %s)",
			e.in.Role, n.ID, dur(e.p.PingDeadline), dur(e.age(n)), n.State))
		e.replaceable++
	}
}

// counted is the number of nodes that count toward Max.
func (e *eval) counted() int {
	return len(e.active) + len(e.launching) + len(e.late) + len(e.draining) + e.launched
}

// serving is the number of nodes in service or on their way, for Min.
func (e *eval) serving() int { return len(e.active) + len(e.launching) + e.launched }

// gate returns how long the last operation still holds the next one back,
// and the name of the wait.
func (e *eval) gate() (time.Duration, string) {
	wait, name := e.p.CompetitiveGap, "competitive gap"
	if e.p.Mode == ModeRigid {
		wait, name = e.p.CoolDown, "rigid cool-down"
	}
	if e.in.LastOperation.IsZero() || !on(wait) {
		return 0, name
	}
	return max(0, wait-e.now.Sub(e.in.LastOperation)), name
}

// loadText describes the load for reasons, as in
// "edge load 72% (36 subscribers / 50 capacity)", or with unplaced demand
// "edge load 150% (300 subscribers + 150 unplaced / 300 capacity)".
func (e *eval) loadText() string {
	load := pct(e.d.Load.Percent)
	if len(e.active) == 0 {
		load = "∞"
	}
	unplaced := ""
	if e.d.Load.Unplaced > 0 {
		unplaced = fmt.Sprintf(" + %d unplaced", e.d.Load.Unplaced)
	}
	return fmt.Sprintf("%s load %s (%d %s%s / %d capacity)", e.in.Role, load,
		e.conns, e.unit, unplaced, len(e.active)*e.p.Capacity)
}

// scaleOut applies rules 4 and 5.
func (e *eval) scaleOut() {
	belowMin := e.serving() < e.p.Min
	if belowMin || e.d.Alarm {
		why := "the group is below min"
		if !belowMin {
			why = fmt.Sprintf("%s > %d%% threshold", e.loadText(), e.p.AlarmThreshold)
		}
		for _, n := range e.fault {
			e.add(ActionTerminate, n.ID, fmt.Sprintf("%s %s is %s and %s", e.in.Role, n.ID, faultText(n, e), why))
			e.replaceable++
		}
	}
	if belowMin {
		need := e.p.Min - e.serving()
		for range need {
			if e.counted() >= e.p.Max {
				e.hold("%s below min %d but at max %d", e.in.Role, e.p.Min, e.p.Max)
				break
			}
			reason := fmt.Sprintf("%s below min: %d in service + %d launching < min %d; max %d",
				e.in.Role, len(e.active), len(e.launching)+e.launched, e.p.Min, e.p.Max)
			if e.replaceable > 0 {
				e.replace(reason)
				continue
			}
			e.add(ActionLaunch, "", reason)
		}
	}
	if !e.d.Alarm || e.p.Capacity <= 0 {
		return
	}
	status := func() string {
		return fmt.Sprintf("%s > %d%% threshold; %d in service, %d launching; max %d",
			e.loadText(), e.p.AlarmThreshold, len(e.active), len(e.launching)+e.launched, e.p.Max)
	}
	for e.replaceable > 0 && e.above(e.serving()) && e.counted() < e.p.Max {
		e.replace(status())
	}
	if !e.above(e.serving()) {
		if e.launched == 0 {
			e.hold("%s; launching capacity covers it (%s projected)", status(),
				pct(100*float64(e.demand)/float64(e.serving()*e.p.Capacity)))
		}
		return
	}
	if e.counted() >= e.p.Max {
		e.hold("%s; at max", status())
		return
	}
	if lasted := e.now.Sub(e.d.AlarmSince); on(e.p.ScaleOutWait) && lasted < e.p.ScaleOutWait {
		e.hold("%s; alarm for %s, scale-out wait %s", status(), dur(lasted), dur(e.p.ScaleOutWait))
		return
	}
	if left, name := e.gate(); left > 0 {
		e.hold("%s; %s, %s left", status(), name, dur(left))
		return
	}
	e.add(ActionLaunch, "", status())
}

// scaleIn applies rule 6 and sets LowSince.
func (e *eval) scaleIn() {
	if e.d.Alarm || e.p.Capacity <= 0 || len(e.launching)+len(e.late)+e.launched > 0 {
		return
	}
	if e.in.Role == RoleOrigin {
		e.drainIdleOrigin()
		return
	}
	n := len(e.active)
	if n == 0 || n <= e.p.Min {
		return
	}
	all := e.demand
	for _, d := range e.draining {
		all += d.Load
	}
	var low bool
	var without float64
	if n == 1 {
		low = all == 0
	} else {
		low = int64(all)*100 < int64(e.p.ScaleInThreshold)*int64(n-1)*int64(e.p.Capacity)
		without = 100 * float64(all) / float64((n-1)*e.p.Capacity)
	}
	if !low {
		return
	}
	e.d.LowSince = e.in.LowSince
	if e.d.LowSince.IsZero() || e.d.LowSince.After(e.now) {
		e.d.LowSince = e.now
	}
	lasted := e.now.Sub(e.d.LowSince)
	status := fmt.Sprintf("%s load without one node %s (%d %s / %d capacity) < %d%% scale-in threshold for %s; %d in service, min %d",
		e.in.Role, pct(without), all, e.unit, (n-1)*e.p.Capacity, e.p.ScaleInThreshold, dur(lasted), n, e.p.Min)
	if on(e.p.ScaleInWait) && lasted < e.p.ScaleInWait {
		e.hold("%s; scale-in wait %s", status, dur(e.p.ScaleInWait))
		return
	}
	if left, name := e.gate(); left > 0 {
		e.hold("%s; %s, %s left", status, name, dur(left))
		return
	}
	// The least-loaded node leaves; among equals the newest, so that
	// long-lived nodes (with warm caches and pulled streams) stay.
	victim := slices.MinFunc(e.active, func(a, b *Node) int {
		return cmp.Or(cmp.Compare(a.Load, b.Load), b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	e.add(ActionDrain, victim.ID, fmt.Sprintf("%s; least-loaded %s has %d %s", status, victim.ID, victim.Load, e.unit))
}

// drainIdleOrigin drains the origin that has been idle longest, if that is
// at least OriginIdle.
func (e *eval) drainIdleOrigin() {
	if !on(e.p.OriginIdle) || len(e.active) <= e.p.Min {
		return
	}
	var victim *Node
	for _, n := range e.active {
		if n.Load != 0 || n.IdleSince.IsZero() || e.now.Sub(n.IdleSince) < e.p.OriginIdle {
			continue
		}
		if victim == nil || n.IdleSince.Before(victim.IdleSince) {
			victim = n
		}
	}
	if victim == nil {
		return
	}
	status := fmt.Sprintf("origin %s has had no publishers for %s (origin idle time %s); %d in service, min %d",
		victim.ID, dur(e.now.Sub(victim.IdleSince)), dur(e.p.OriginIdle), len(e.active), e.p.Min)
	if left, name := e.gate(); left > 0 {
		e.hold("%s; %s, %s left", status, name, dur(left))
		return
	}
	e.add(ActionDrain, victim.ID, status)
}

func faultText(n *Node, e *eval) string {
	if n.State == NodeFault {
		return "FAULT"
	}
	last := n.LastReport
	if last.IsZero() {
		last = n.RegisteredAt
	}
	return fmt.Sprintf("silent (no report for %s, timeout %s)", dur(e.now.Sub(last)), dur(e.p.ReportTimeout))
}

func unitOf(role string) string {
	switch role {
	case RoleEdge:
		return "subscribers"
	case RoleOrigin:
		return "publishers"
	default:
		return "connections"
	}
}

// pct formats a percentage: whole numbers without decimals, others with one.
func pct(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

// dur formats a duration rounded to the second (or millisecond below one).
func dur(d time.Duration) string {
	if d < time.Second && d > -time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
