package scaler

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return t0.Add(-d) }

// serving is an edge or origin in service for an hour, reporting now.
func serving(id string, load int) Node {
	return Node{
		ID: id, State: NodeInService, Load: load,
		CreatedAt: ago(time.Hour), RegisteredAt: ago(time.Hour - 30*time.Second), LastReport: t0,
	}
}

func pendingFor(id string, age time.Duration) Node {
	return Node{ID: id, State: NodePending, CreatedAt: ago(age)}
}

func drainingFor(id string, load int, d time.Duration) Node {
	n := serving(id, load)
	n.Draining, n.DrainingSince = true, ago(d)
	return n
}

func faulty(id string) Node {
	n := serving(id, 0)
	n.State = NodeFault
	return n
}

func idleFor(id string, d time.Duration) Node {
	n := serving(id, 0)
	n.IdleSince = ago(d)
	return n
}

func pol(minN, maxN, capacity int) Policy {
	return Policy{Min: minN, Max: maxN, Capacity: capacity}
}

func rigid(p Policy) Policy { p.Mode = ModeRigid; return p }

func with(p Policy, f func(*Policy)) Policy { f(&p); return p }

// act describes an action compactly: "launch", "replace" (a replacement
// launch), "drain e3", "terminate f1".
func act(a Action) string {
	if a.Replace {
		return "replace"
	}
	if a.NodeID == "" {
		return a.Kind.String()
	}
	return a.Kind.String() + " " + a.NodeID
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want []string
		// wantReasons[i] must appear in the reason of action i.
		wantReasons []string
		wantHeld    string
		wantAlarm   bool
	}{
		{
			name: "exactly at threshold: no alarm",
			in:   Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 60)}},
		},
		{
			name:        "above threshold: the 61st connection launches a node",
			in:          Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 61)}},
			want:        []string{"launch"},
			wantReasons: []string{"edge load 61% (61 subscribers / 100 capacity) > 60% threshold; 1 in service, 0 launching; max 5"},
			wantAlarm:   true,
		},
		{
			name:        "reason carries the numbers",
			in:          Input{Role: RoleEdge, Policy: pol(1, 5, 50), Nodes: []Node{serving("e1", 36)}},
			want:        []string{"launch"},
			wantReasons: []string{"edge load 72% (36 subscribers / 50 capacity) > 60% threshold; 1 in service, 0 launching; max 5"},
			wantAlarm:   true,
		},
		{
			name:        "custom threshold",
			in:          Input{Role: RoleOrigin, Policy: with(pol(1, 5, 30), func(p *Policy) { p.AlarmThreshold = 80 }), Nodes: []Node{serving("o1", 25)}},
			want:        []string{"launch"},
			wantReasons: []string{"origin load 83.3% (25 publishers / 30 capacity) > 80% threshold"},
			wantAlarm:   true,
		},
		{
			name:      "at max: held",
			in:        Input{Role: RoleEdge, Policy: pol(1, 2, 100), Nodes: []Node{serving("e1", 90), serving("e2", 90)}},
			wantHeld:  "at max",
			wantAlarm: true,
		},
		{
			name:      "draining nodes count toward max",
			in:        Input{Role: RoleEdge, Policy: pol(1, 2, 100), Nodes: []Node{serving("e1", 90), drainingFor("e2", 5, time.Minute)}},
			wantHeld:  "at max",
			wantAlarm: true,
		},
		{
			name:        "below min: launch up to min at once",
			in:          Input{Role: RoleEdge, Policy: pol(3, 5, 100), Nodes: []Node{serving("e1", 0)}, LastOperation: ago(time.Second)},
			want:        []string{"launch", "launch"},
			wantReasons: []string{"edge below min: 1 in service + 0 launching < min 3; max 5", "1 in service + 1 launching < min 3"},
		},
		{
			name: "below min counts launching nodes",
			in:   Input{Role: RoleEdge, Policy: pol(3, 5, 100), Nodes: []Node{serving("e1", 0), pendingFor("e2", 10*time.Second)}},
			want: []string{"launch"},
		},
		{
			name:     "below min but max is lower",
			in:       Input{Role: RoleEdge, Policy: pol(3, 2, 100), Nodes: []Node{serving("e1", 0)}},
			want:     []string{"launch"},
			wantHeld: "edge below min 3 but at max 2",
		},
		{
			name:      "launching capacity covers the alarm",
			in:        Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 70), serving("e2", 70), pendingFor("e3", 10*time.Second)}},
			wantHeld:  "launching capacity covers it (46.7% projected)",
			wantAlarm: true,
		},
		{
			name: "launching capacity is not enough",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LastOperation: ago(5 * time.Second),
				Nodes: []Node{serving("e1", 100), serving("e2", 100), pendingFor("e3", 5*time.Second)},
			},
			want:        []string{"launch"},
			wantReasons: []string{"edge load 100% (200 subscribers / 200 capacity) > 60% threshold; 2 in service, 1 launching; max 5"},
			wantAlarm:   true,
		},
		{
			name: "unplaced demand counts as load",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 10, 100), LastOperation: ago(time.Minute), Unplaced: 150,
				Nodes: []Node{serving("e1", 100), serving("e2", 100), pendingFor("e3", time.Second)},
			},
			want:        []string{"launch"},
			wantReasons: []string{"edge load 175% (200 subscribers + 150 unplaced / 200 capacity) > 60% threshold; 2 in service, 1 launching; max 10"},
			wantAlarm:   true,
		},
		{
			name:      "unplaced demand covered by launching capacity",
			in:        Input{Role: RoleEdge, Policy: pol(1, 10, 100), Unplaced: 20, Nodes: []Node{serving("e1", 100), pendingFor("e2", time.Second)}},
			wantHeld:  "launching capacity covers it (60% projected)",
			wantAlarm: true,
		},
		{
			name:        "unplaced demand with nothing in service",
			in:          Input{Role: RoleEdge, Policy: pol(0, 10, 100), Unplaced: 5},
			want:        []string{"launch"},
			wantReasons: []string{"edge load ∞ (0 subscribers + 5 unplaced / 0 capacity) > 60% threshold; 0 in service, 0 launching; max 10"},
			wantAlarm:   true,
		},
		{
			name: "unplaced demand blocks scale-in",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 10, 100), LowSince: ago(time.Hour), Unplaced: 30,
				Nodes: []Node{serving("e1", 5), serving("e2", 0)},
			},
		},
		{
			name:      "competitive: gap holds the next launch",
			in:        Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 90)}, LastOperation: ago(3 * time.Second)},
			wantHeld:  "competitive gap, 2s left",
			wantAlarm: true,
		},
		{
			name:      "competitive: gap over",
			in:        Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 90)}, LastOperation: ago(5 * time.Second)},
			want:      []string{"launch"},
			wantAlarm: true,
		},
		{
			name:      "rigid: cool-down holds",
			in:        Input{Role: RoleEdge, Policy: rigid(pol(1, 5, 100)), Nodes: []Node{serving("e1", 90)}, LastOperation: ago(100 * time.Second)},
			wantHeld:  "rigid cool-down, 1m20s left",
			wantAlarm: true,
		},
		{
			name:      "rigid: cool-down over",
			in:        Input{Role: RoleEdge, Policy: rigid(pol(1, 5, 100)), Nodes: []Node{serving("e1", 90)}, LastOperation: ago(180 * time.Second)},
			want:      []string{"launch"},
			wantAlarm: true,
		},
		{
			name: "rigid: custom cool-down",
			in: Input{
				Role: RoleEdge, Policy: rigid(with(pol(1, 5, 100), func(p *Policy) { p.CoolDown = 30 * time.Second })),
				Nodes: []Node{serving("e1", 90)}, LastOperation: ago(30 * time.Second),
			},
			want:      []string{"launch"},
			wantAlarm: true,
		},
		{
			name: "warm-up: a young pending node counts as capacity",
			in: Input{
				Role: RoleEdge, Policy: with(pol(1, 5, 100), func(p *Policy) { p.WarmUp = time.Minute }),
				Nodes: []Node{serving("e1", 70), serving("e2", 70), pendingFor("e3", 59*time.Second)},
			},
			wantHeld:  "launching capacity covers it",
			wantAlarm: true,
		},
		{
			name: "warm-up: a pending node past warm-up does not",
			in: Input{
				Role: RoleEdge, Policy: with(pol(1, 5, 100), func(p *Policy) { p.WarmUp = time.Minute }),
				Nodes: []Node{serving("e1", 70), serving("e2", 70), pendingFor("e3", 90*time.Second)},
			},
			want:        []string{"launch"},
			wantReasons: []string{"2 in service, 0 launching"},
			wantAlarm:   true,
		},
		{
			name: "scale-out wait holds a young alarm",
			in: Input{
				Role: RoleEdge, Policy: with(pol(1, 5, 100), func(p *Policy) { p.ScaleOutWait = 30 * time.Second }),
				Nodes: []Node{serving("e1", 90)}, AlarmSince: ago(10 * time.Second),
			},
			wantHeld:  "alarm for 10s, scale-out wait 30s",
			wantAlarm: true,
		},
		{
			name: "scale-out wait over",
			in: Input{
				Role: RoleEdge, Policy: with(pol(1, 5, 100), func(p *Policy) { p.ScaleOutWait = 30 * time.Second }),
				Nodes: []Node{serving("e1", 90)}, AlarmSince: ago(30 * time.Second),
			},
			want:      []string{"launch"},
			wantAlarm: true,
		},
		{
			name: "scale-in: drain the least-loaded edge",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LowSince: ago(time.Minute),
				Nodes: []Node{serving("e1", 15), serving("e2", 10), serving("e3", 5)},
			},
			want: []string{"drain e3"},
			wantReasons: []string{"edge load without one node 15% (30 subscribers / 200 capacity) < 20% scale-in threshold for 1m0s; " +
				"3 in service, min 1; least-loaded e3 has 5 subscribers"},
		},
		{
			name: "scale-in: among equals the newest goes",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LowSince: ago(time.Minute),
				Nodes: []Node{serving("e1", 5), func() Node { n := serving("e2", 5); n.CreatedAt = ago(time.Minute); return n }()},
			},
			want: []string{"drain e2"},
		},
		{
			name: "scale-in waits ScaleInWait",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LowSince: ago(30 * time.Second),
				Nodes: []Node{serving("e1", 15), serving("e2", 10), serving("e3", 5)},
			},
			wantHeld: "scale-in wait 1m0s",
		},
		{
			name: "scale-in: not exactly at the threshold",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LowSince: ago(time.Hour),
				Nodes: []Node{serving("e1", 20), serving("e2", 0)},
			},
		},
		{
			name: "scale-in: custom threshold",
			in: Input{
				Role: RoleEdge, Policy: with(pol(1, 5, 100), func(p *Policy) { p.ScaleInThreshold = 50 }), LowSince: ago(time.Hour),
				Nodes: []Node{serving("e1", 45), serving("e2", 0)},
			},
			want:        []string{"drain e2"},
			wantReasons: []string{"45% (45 subscribers / 100 capacity) < 50% scale-in threshold"},
		},
		{
			name: "scale-in never below min",
			in: Input{
				Role: RoleEdge, Policy: pol(3, 5, 100), LowSince: ago(time.Hour),
				Nodes: []Node{serving("e1", 0), serving("e2", 0), serving("e3", 0)},
			},
		},
		{
			name: "scale-in: min 0 drains the last empty edge",
			in: Input{
				Role: RoleEdge, Policy: pol(0, 5, 100), LowSince: ago(time.Hour),
				Nodes: []Node{serving("e1", 0)},
			},
			want: []string{"drain e1"},
		},
		{
			name: "scale-in: not while a node is launching",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LowSince: ago(time.Hour),
				Nodes: []Node{serving("e1", 0), serving("e2", 0), pendingFor("e3", time.Second)},
			},
		},
		{
			name: "scale-in counts the connections of draining nodes",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LowSince: ago(time.Hour),
				Nodes: []Node{serving("e1", 15), serving("e2", 10), serving("e3", 5), drainingFor("e4", 20, time.Second)},
			},
		},
		{
			name: "scale-in respects the rigid cool-down",
			in: Input{
				Role: RoleEdge, Policy: rigid(pol(1, 5, 100)), LowSince: ago(time.Hour), LastOperation: ago(time.Minute),
				Nodes: []Node{serving("e1", 0), serving("e2", 0)},
			},
			wantHeld: "rigid cool-down, 2m0s left",
		},
		{
			name:        "a drained empty edge is terminated",
			in:          Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 10), drainingFor("e2", 0, 40*time.Second)}},
			want:        []string{"terminate e2"},
			wantReasons: []string{"edge e2 drained: no subscribers left after 40s"},
		},
		{
			name:        "drain timeout terminates a draining edge with connections",
			in:          Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 10), drainingFor("e2", 5, 10*time.Minute)}},
			want:        []string{"terminate e2"},
			wantReasons: []string{"edge e2 drain timeout 10m0s reached with 5 subscribers left"},
		},
		{
			name: "a draining edge with connections waits for the timeout",
			in:   Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 10), drainingFor("e2", 5, 9*time.Minute)}},
		},
		{
			name:        "FAULT below min is terminated and replaced",
			in:          Input{Role: RoleEdge, Policy: pol(2, 5, 100), Nodes: []Node{serving("e1", 10), faulty("f1")}, LastOperation: ago(time.Second)},
			want:        []string{"terminate f1", "replace"},
			wantReasons: []string{"edge f1 is FAULT and the group is below min", "replace lost node: edge below min: 1 in service + 0 launching < min 2"},
		},
		{
			name: "FAULT under alarm is terminated and replaced without waiting",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LastOperation: ago(time.Second),
				Nodes: []Node{serving("e1", 80), serving("e2", 80), faulty("f1")},
			},
			want:        []string{"terminate f1", "replace"},
			wantReasons: []string{"edge f1 is FAULT and edge load 80% (160 subscribers / 200 capacity) > 60% threshold", "replace lost node: edge load 80%"},
			wantAlarm:   true,
		},
		{
			name: "FAULT is left alone when the group is fine",
			in:   Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 25), serving("e2", 25), faulty("f1")}},
		},
		{
			name: "a silent node counts as FAULT",
			in: Input{
				Role: RoleEdge, Policy: pol(2, 5, 100),
				Nodes: []Node{serving("e1", 10), func() Node { n := serving("e2", 10); n.LastReport = ago(2 * time.Minute); return n }()},
			},
			want:        []string{"terminate e2", "replace"},
			wantReasons: []string{"edge e2 is silent (no report for 2m0s, timeout 1m0s) and the group is below min", "replace lost node"},
		},
		{
			name:        "ping deadline: failed launch terminated and replaced below min",
			in:          Input{Role: RoleEdge, Policy: pol(2, 5, 100), Nodes: []Node{serving("e1", 10), pendingFor("p1", 151*time.Second)}},
			want:        []string{"terminate p1", "replace"},
			wantReasons: []string{"edge p1 did not register within the 2m30s ping deadline (launched 2m31s ago, PENDING)", "replace lost node: edge below min"},
		},
		{
			name: "ping deadline: failed launch replaced under alarm",
			in: Input{
				Role: RoleEdge, Policy: pol(1, 5, 100), LastOperation: ago(time.Second),
				Nodes: []Node{serving("e1", 90), {ID: "p1", State: NodeRunning, CreatedAt: ago(150 * time.Second)}},
			},
			want:      []string{"terminate p1", "replace"},
			wantAlarm: true,
		},
		{
			name: "ping deadline: not replaced when not needed",
			in:   Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 40), pendingFor("p1", 200*time.Second)}},
			want: []string{"terminate p1"},
		},
		{
			name:        "origin idle for the origin idle time is drained",
			in:          Input{Role: RoleOrigin, Policy: pol(1, 5, 30), Nodes: []Node{serving("o1", 3), idleFor("o2", 5*time.Minute)}},
			want:        []string{"drain o2"},
			wantReasons: []string{"origin o2 has had no publishers for 5m0s (origin idle time 5m0s); 2 in service, min 1"},
		},
		{
			name: "origin idle for less than the idle time stays",
			in:   Input{Role: RoleOrigin, Policy: pol(1, 5, 30), Nodes: []Node{serving("o1", 3), idleFor("o2", time.Minute)}},
		},
		{
			name: "idle origin never drained below min",
			in:   Input{Role: RoleOrigin, Policy: pol(2, 5, 30), Nodes: []Node{serving("o1", 3), idleFor("o2", time.Hour)}},
		},
		{
			name: "origins are not drained on low load alone",
			in:   Input{Role: RoleOrigin, Policy: pol(1, 5, 30), LowSince: ago(time.Hour), Nodes: []Node{serving("o1", 1), serving("o2", 1)}},
		},
		{
			name: "the longest idle origin goes first",
			in: Input{
				Role: RoleOrigin, Policy: pol(1, 5, 30),
				Nodes: []Node{idleFor("o1", 6*time.Minute), idleFor("o2", 9*time.Minute), idleFor("o3", 7*time.Minute)},
			},
			want: []string{"drain o2"},
		},
		{
			name: "no capacity: min still holds, no load rules",
			in:   Input{Role: RoleEdge, Policy: pol(1, 5, 0), Nodes: []Node{}},
			want: []string{"launch"},
		},
		{
			name: "terminating nodes are ignored",
			in:   Input{Role: RoleEdge, Policy: pol(1, 1, 100), Nodes: []Node{serving("e1", 10), {ID: "t1", State: NodeTerminating, CreatedAt: ago(time.Hour)}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Now = t0
			if in.Group == "" {
				in.Group = "g1"
			}
			d := Decide(in)
			got := make([]string, len(d.Actions))
			for i, a := range d.Actions {
				got[i] = act(a)
			}
			if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
				t.Errorf("actions (-want +got):\n%s\nreasons: %q\nheld: %q", diff, reasons(d), d.Held)
			}
			for i, want := range tt.wantReasons {
				if i < len(d.Actions) && !strings.Contains(d.Actions[i].Reason, want) {
					t.Errorf("action %d reason = %q, want it to contain %q", i, d.Actions[i].Reason, want)
				}
			}
			for i, a := range d.Actions {
				if a.Reason == "" {
					t.Errorf("action %d (%s) has no reason", i, act(a))
				}
			}
			switch {
			case tt.wantHeld == "" && d.Held != "":
				t.Errorf("held = %q, want nothing held", d.Held)
			case !strings.Contains(d.Held, tt.wantHeld):
				t.Errorf("held = %q, want it to contain %q", d.Held, tt.wantHeld)
			}
			if d.Alarm != tt.wantAlarm {
				t.Errorf("alarm = %v, want %v (load %+v)", d.Alarm, tt.wantAlarm, d.Load)
			}
		})
	}
}

var cmpEmpty = cmp.Transformer("empty", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

func reasons(d Decision) []string {
	out := make([]string, len(d.Actions))
	for i, a := range d.Actions {
		out[i] = a.Reason
	}
	return out
}

func TestDecide_History(t *testing.T) {
	alarmed := Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 90)}, Now: t0}
	if d := Decide(alarmed); !d.AlarmSince.Equal(t0) {
		t.Errorf("new alarm: AlarmSince = %v, want now (%v)", d.AlarmSince, t0)
	}
	alarmed.AlarmSince = ago(time.Minute)
	if d := Decide(alarmed); !d.AlarmSince.Equal(ago(time.Minute)) {
		t.Errorf("lasting alarm: AlarmSince = %v, want %v", d.AlarmSince, ago(time.Minute))
	}
	calm := Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 50)}, Now: t0, AlarmSince: ago(time.Minute)}
	if d := Decide(calm); !d.AlarmSince.IsZero() || !d.LowSince.IsZero() {
		t.Errorf("calm: AlarmSince = %v, LowSince = %v, want both zero", d.AlarmSince, d.LowSince)
	}
	low := Input{Role: RoleEdge, Policy: pol(1, 5, 100), Nodes: []Node{serving("e1", 5), serving("e2", 5)}, Now: t0}
	if d := Decide(low); !d.LowSince.Equal(t0) {
		t.Errorf("new low load: LowSince = %v, want now", d.LowSince)
	}
	low.LowSince = ago(10 * time.Second)
	if d := Decide(low); !d.LowSince.Equal(ago(10 * time.Second)) {
		t.Errorf("lasting low load: LowSince = %v, want %v", d.LowSince, ago(10*time.Second))
	}
}

func TestDecide_Load(t *testing.T) {
	d := Decide(Input{
		Role: RoleEdge, Policy: pol(1, 10, 100), Now: t0,
		Nodes: []Node{
			serving("e1", 50), serving("e2", 20), pendingFor("p1", time.Second),
			drainingFor("d1", 7, time.Second), faulty("f1"),
			{ID: "t1", State: NodeTerminating},
		},
	})
	want := Load{Connections: 70, InService: 2, Launching: 1, Draining: 1, Fault: 1, Capacity: 100, Threshold: 60, Percent: 35}
	if diff := cmp.Diff(want, d.Load); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

func TestPolicy_Validate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		want []string // substrings of the error; none means valid
	}{
		{name: "defaults with capacity", p: with(DefaultPolicy(), func(p *Policy) { p.Capacity = 300 })},
		{name: "zero fields take defaults", p: Policy{Min: 0, Max: 0, Capacity: 1}},
		{name: "no capacity", p: DefaultPolicy(), want: []string{"capacity must be positive"}},
		{
			name: "everything wrong",
			p:    Policy{Min: -1, Max: -2, Capacity: 1, Mode: 9, AlarmThreshold: 101, ScaleInThreshold: 101},
			want: []string{"min must not be negative", "max -2 must be at least min -1", "mode Mode(9)", "alarm threshold must be 1-100", "scale-in threshold"},
		},
		{name: "scale-in above alarm", p: Policy{Max: 1, Capacity: 1, AlarmThreshold: 50, ScaleInThreshold: 50}, want: []string{"scale-in threshold must be 1 to 49"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"", ModeCompetitive, false},
		{"competitive", ModeCompetitive, false},
		{"Rigid", ModeRigid, false},
		{"fast", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseMode(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil {
			if back, _ := ParseMode(got.String()); back != got {
				t.Errorf("ParseMode(%v.String()) = %v", got, back)
			}
		}
	}
}

func TestParseNodeState(t *testing.T) {
	for s := NodePending; s <= NodeFault; s++ {
		got, err := ParseNodeState(strings.ToLower(s.String()))
		if err != nil || got != s {
			t.Errorf("ParseNodeState(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
	if _, err := ParseNodeState("DOOMED"); err == nil {
		t.Error("ParseNodeState(DOOMED) succeeded, want an error")
	}
	if got := NodeState(0).String(); got != "NodeState(0)" {
		t.Errorf("NodeState(0).String() = %q", got)
	}
}
