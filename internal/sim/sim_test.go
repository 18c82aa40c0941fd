package sim

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoal-live/shoal/internal/scaler"
)

// tinyConfig has round numbers that can be followed by hand: 100
// subscribers per edge, 10 s boot, no churn.
func tinyConfig() Config {
	c := DefaultConfig()
	c.BootDelay = 10 * time.Second
	c.Edge.Capacity, c.Edge.Max = 100, 10
	c.Origin.Capacity = 10
	c.SubscriberSession, c.PublisherSession = -1, -1
	return c
}

func TestRun_TinyTraceByHand(t *testing.T) {
	// 200 subscribers arrive at second 1 and stay for a minute.
	tr := Trace{Points: []Point{{0, 1, 0}, {time.Second, 1, 200}, {60 * time.Second, 1, 200}}}
	got, err := Run(tr, tinyConfig())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The one edge takes 100 and refuses 100 from second 1. At 5 s the
	// scaler sees 100 + 100 unplaced on 100 capacity (200 %) and launches
	// (in service at 15 s); at 10 s 200 / 200 with the launching node is
	// still above 60 %: launch (in service at 20 s). At 15 s the second
	// edge takes the 100 waiting: 14 seconds refused 100 each; 200 / 300
	// with the third launching is 66.7 %: launch (in service at 25 s). At
	// 20 s 200 / 400 counting the fourth is 50 %: hold. Node time: edges
	// 60 + 55 + 50 + 45 s, origin 60 s.
	want := Result{
		Strategy:                 StrategyScaler,
		Mode:                     scaler.ModeCompetitive,
		Duration:                 time.Minute,
		EdgeNodeHours:            210.0 / 3600,
		OriginNodeHours:          60.0 / 3600,
		SecondsOverCapacity:      14,
		RefusedSubscriberSeconds: 1400,
		PeakRefusedSubscribers:   100,
		Launches:                 3,
		PeakEdges:                4,
		PeakOrigins:              1,
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Run (-want +got):\n%s", diff)
	}
	again, _ := Run(tr, tinyConfig())
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("second Run differs:\n%s", diff)
	}
}

func TestRun_IsDeterministicWithChurnAndFailures(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FailureRate, cfg.Seed = 0.2, 7
	tr := loadTrace(t, "sawtooth.csv")
	a, err := Run(tr, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	b, _ := Run(tr, cfg)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two runs differ:\n%s", diff)
	}
	if a.Terminations <= a.Drains {
		t.Errorf("with 20%% failed launches, terminations (%d) should exceed drains (%d): failed launches are terminated undrained",
			a.Terminations, a.Drains)
	}
}

// TestTargets checks the numbers the project promises (ARCHITECTURE.md,
// Control plane) with the default configuration.
func TestTargets(t *testing.T) {
	flash, err := Compare(loadTrace(t, "flash_crowd.csv"), DefaultConfig())
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	day, err := Compare(loadTrace(t, "steady_day.csv"), DefaultConfig())
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	var b strings.Builder
	b.WriteString("flash_crowd.csv\n")
	_ = WriteTable(&b, flash)
	b.WriteString("steady_day.csv\n")
	_ = WriteTable(&b, day)
	t.Log("\n" + b.String())

	row := func(rows []Row, name string) Result {
		for _, r := range rows {
			if r.Name == name {
				return r.Result
			}
		}
		t.Fatalf("no row %q", name)
		return Result{}
	}
	comp, rig := row(flash, "competitive"), row(flash, "rigid")
	if comp.SecondsOverCapacity*3 > rig.SecondsOverCapacity {
		t.Errorf("flash crowd: competitive %d s over capacity, rigid %d s; want at most a third",
			comp.SecondsOverCapacity, rig.SecondsOverCapacity)
	}
	comp, fixed := row(day, "competitive"), row(day, "fixed (peak)")
	if comp.NodeHours() > 0.6*fixed.NodeHours() {
		t.Errorf("steady day: competitive %.1f node-hours, fixed fleet %.1f; want at least 40%% fewer",
			comp.NodeHours(), fixed.NodeHours())
	}
	if comp.SecondsOverCapacity != 0 {
		t.Errorf("steady day: competitive %d s over capacity, want 0", comp.SecondsOverCapacity)
	}
	if fixed.SecondsOverCapacity != 0 {
		t.Errorf("steady day: the fixed fleet sized for the peak was over capacity %d s", fixed.SecondsOverCapacity)
	}
}

func TestRun_FixedFleetIsSizedForThePeak(t *testing.T) {
	cfg := tinyConfig()
	cfg.Strategy = StrategyFixed
	tr := Trace{Points: []Point{{0, 1, 0}, {10 * time.Second, 25, 1000}, {20 * time.Second, 1, 0}}}
	got, err := Run(tr, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// 1000 at 60 % of 100 is 17 edges; 25 at 60 % of 10 is 5 origins.
	if got.PeakEdges != 17 || got.PeakOrigins != 5 || got.Launches != 0 || got.SecondsOverCapacity != 0 {
		t.Errorf("fixed = %d edges, %d origins, %d launches, %d s over; want 17, 5, 0, 0",
			got.PeakEdges, got.PeakOrigins, got.Launches, got.SecondsOverCapacity)
	}
	if want := 17 * 20.0 / 3600; math.Abs(got.EdgeNodeHours-want) > 1e-9 {
		t.Errorf("edge node-hours = %v, want %v", got.EdgeNodeHours, want)
	}
}

func TestRun_HPA(t *testing.T) {
	cfg := tinyConfig()
	cfg.Strategy = StrategyHPA
	// 600 subscribers for 10 minutes, then 60 for 10 minutes.
	tr := Trace{Points: []Point{
		{0, 1, 0},
		{time.Second, 1, 600},
		{600 * time.Second, 1, 600},
		{601 * time.Second, 1, 60},
		{1200 * time.Second, 1, 60},
	}}
	got, err := Run(tr, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// desired = ceil(600 / 60) = 10 edges; scale-up is limited to
	// max(4, 100 %) per 15 s period, so it takes a few periods.
	if got.PeakEdges != 10 {
		t.Errorf("peak edges = %d, want 10", got.PeakEdges)
	}
	if got.Terminations != 9 || got.Drains != 0 {
		t.Errorf("terminations, drains = %d, %d; want 9, 0 (back to 1, no drains)", got.Terminations, got.Drains)
	}
	// The 300 s stabilisation window keeps 10 edges for 5 minutes after
	// the drop: at least 10 × 300 s of edge time after second 600.
	if min := (600.0*1 + 10*300) / 3600; got.EdgeNodeHours < min {
		t.Errorf("edge node-hours = %.3f, want at least %.3f (scale-down held by the window)", got.EdgeNodeHours, min)
	}
	if got.Disconnected == 0 {
		t.Error("HPA removed busy nodes without disconnecting anyone")
	}
}

func TestFill(t *testing.T) {
	tests := []struct {
		name     string
		loads    []int
		k        int
		want     []int // by node, in input order
		wantLeft int
	}{
		{name: "nothing to place", loads: []int{3, 1}, k: 0, want: []int{3, 1}},
		{name: "no nodes", loads: nil, k: 5, want: nil, wantLeft: 5},
		{name: "lowest first", loads: []int{5, 1, 3}, k: 2, want: []int{5, 3, 3}},
		{name: "level evenly", loads: []int{5, 1, 3}, k: 8, want: []int{5, 6, 6}},
		{name: "up to capacity", loads: []int{9, 0}, k: 30, want: []int{10, 10}, wantLeft: 19},
		{name: "exactly full", loads: []int{9, 0}, k: 11, want: []int{10, 10}},
		{name: "remainder to the first", loads: []int{0, 0, 0}, k: 4, want: []int{2, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := make([]*node, len(tt.loads))
			for i, l := range tt.loads {
				nodes[i] = &node{load: l}
			}
			orig := append([]*node(nil), nodes...)
			left := fill(nodes, tt.k, 10)
			var got []int
			for _, n := range orig {
				got = append(got, n.load)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || left != tt.wantLeft {
				t.Errorf("fill = %v left %d, want %v left %d", got, left, tt.want, tt.wantLeft)
			}
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{name: "defaults", edit: func(*Config) {}},
		{name: "zero config takes defaults", edit: func(c *Config) { *c = Config{} }},
		{name: "bad strategy", edit: func(c *Config) { c.Strategy = 9 }, wantErr: "sim strategy"},
		{name: "fractional interval", edit: func(c *Config) { c.Interval = 1500 * time.Millisecond }, wantErr: "sim interval"},
		{name: "negative boot", edit: func(c *Config) { c.BootDelay = -time.Second }, wantErr: "boot delay"},
		{name: "failure rate", edit: func(c *Config) { c.FailureRate = 2 }, wantErr: "failure rate"},
		{name: "edge policy", edit: func(c *Config) { c.Edge.Capacity = -1 }, wantErr: "sim edge policy: capacity"},
		{name: "origin policy", edit: func(c *Config) { c.Origin.Max = -1 }, wantErr: "sim origin policy: max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := Run(Trace{Points: []Point{{0, 0, 0}, {time.Second, 0, 0}}}, c); err == nil {
				t.Error("Run accepted a config that Validate rejects")
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	err := WriteTable(&b, []Row{{Name: "competitive", Result: Result{
		EdgeNodeHours: 1.25, OriginNodeHours: 0.5, SecondsOverCapacity: 3, RefusedSubscriberSeconds: 40,
		PeakRefusedSubscribers: 20, Disconnected: 2, PeakEdges: 4, Launches: 5, Drains: 1, Terminations: 1,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "| strategy |") || !strings.HasPrefix(lines[1], "|---|") {
		t.Fatalf("table =\n%s", b.String())
	}
	if want := "| competitive | 1.2 | 0.5 | 1.8 | 3 | 40 | 20 | 2 | 4 | 5 | 1 | 1 |"; lines[2] != want {
		t.Errorf("row = %q, want %q", lines[2], want)
	}
}

func BenchmarkRun_SteadyDay(b *testing.B) {
	tr := loadTrace(b, "steady_day.csv")
	for b.Loop() {
		if _, err := Run(tr, DefaultConfig()); err != nil {
			b.Fatal(err)
		}
	}
}
