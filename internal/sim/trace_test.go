package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// traceCases is the one table for ParseTrace: decode checks and fuzz seeds.
var traceCases = []struct {
	name    string
	in      string
	want    []Point
	wantErr string // substring; empty means valid
}{
	{
		name: "minimal",
		in:   "time_s,publishers,subscribers\n0,1,0\n60,1,5000\n",
		want: []Point{{0, 1, 0}, {60 * time.Second, 1, 5000}},
	},
	{
		name: "comments spaces and CRLF",
		in:   "# a comment\r\ntime_s, publishers, subscribers\r\n# another\r\n0, 2, 10\r\n 30 ,3, 20\r\n",
		want: []Point{{0, 2, 10}, {30 * time.Second, 3, 20}},
	},
	{name: "empty", in: "", wantErr: "trace is empty"},
	{name: "only comments", in: "# nothing\n", wantErr: "trace is empty"},
	{name: "wrong header", in: "t,p,s\n0,1,1\n1,1,1\n", wantErr: `trace line 1, column 1: header "t,p,s"`},
	{name: "header only", in: "time_s,publishers,subscribers\n", wantErr: "trace has 0 rows, want at least two"},
	{name: "one row", in: "time_s,publishers,subscribers\n0,1,1\n", wantErr: "trace has 1 rows"},
	{name: "too few fields", in: "time_s,publishers,subscribers\n0,1\n", wantErr: "trace line 2, column 1: wrong number of fields"},
	{name: "not a number", in: "time_s,publishers,subscribers\n0,1,1\n10,1,many\n", wantErr: `trace line 3, column 6: subscribers "many" is not a non-negative whole number`},
	{name: "negative", in: "time_s,publishers,subscribers\n0,-1,1\n", wantErr: `trace line 2, column 3: publishers "-1"`},
	{name: "fraction", in: "time_s,publishers,subscribers\n0.5,1,1\n", wantErr: `trace line 2, column 1: time_s "0.5"`},
	{name: "time not increasing", in: "time_s,publishers,subscribers\n0,1,1\n10,1,1\n10,1,2\n", wantErr: "trace line 4, column 1: time_s 10 is not after the previous row's 10"},
	{name: "bad quote", in: "time_s,publishers,subscribers\n0,1,\"1\n", wantErr: "trace line 2, column"},
}

func TestParseTrace(t *testing.T) {
	for _, tt := range traceCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTrace(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTrace = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTrace: %v", err)
			}
			if diff := cmp.Diff(tt.want, got.Points); diff != "" {
				t.Errorf("points (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseTrace(f *testing.F) {
	for _, tt := range traceCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := ParseTrace(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "trace ") && !strings.HasPrefix(err.Error(), "read trace") {
				t.Errorf("error %q does not say it is about the trace", err)
			}
			return
		}
		if len(tr.Points) < 2 {
			t.Fatalf("parsed %d points, want at least two", len(tr.Points))
		}
		for i, p := range tr.Points {
			if p.Publishers < 0 || p.Subscribers < 0 || p.Time < 0 {
				t.Fatalf("point %d = %+v has a negative field", i, p)
			}
			if i > 0 && p.Time <= tr.Points[i-1].Time {
				t.Fatalf("point %d time %v not after %v", i, p.Time, tr.Points[i-1].Time)
			}
		}
	})
}

func TestTrace_AtPeakDuration(t *testing.T) {
	tr := Trace{Points: []Point{{10 * time.Second, 2, 100}, {20 * time.Second, 4, 200}, {40 * time.Second, 0, 0}}}
	tests := []struct {
		at         time.Duration
		pubs, subs int
	}{
		{0, 2, 100},
		{10 * time.Second, 2, 100},
		{15 * time.Second, 3, 150},
		{20 * time.Second, 4, 200},
		{25 * time.Second, 3, 150},
		{39 * time.Second, 0, 10},
		{40 * time.Second, 0, 0},
		{time.Hour, 0, 0},
	}
	for _, tt := range tests {
		p, s := tr.At(tt.at)
		if p != tt.pubs || s != tt.subs {
			t.Errorf("At(%v) = %d, %d; want %d, %d", tt.at, p, s, tt.pubs, tt.subs)
		}
	}
	if p, s := tr.Peak(); p != 4 || s != 200 {
		t.Errorf("Peak = %d, %d; want 4, 200", p, s)
	}
	if d := tr.Duration(); d != 40*time.Second {
		t.Errorf("Duration = %v, want 40s", d)
	}
}

// loadTrace reads a trace from bench/traces.
func loadTrace(t testing.TB, name string) Trace {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "bench", "traces", name))
	if err != nil {
		t.Fatalf("open trace: %v", err)
	}
	defer f.Close()
	tr, err := ParseTrace(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr
}

func TestBenchTraces(t *testing.T) {
	tests := []struct {
		name       string
		duration   time.Duration
		peakSubs   int
		firstSubs  int
		reachesAtS int // the first second with the peak subscribers, 0 to skip
	}{
		{name: "steady_day.csv", duration: 24 * time.Hour, peakSubs: 4083, firstSubs: 1366},
		{name: "flash_crowd.csv", duration: 6060 * time.Second, peakSubs: 5000, firstSubs: 0, reachesAtS: 60},
		{name: "sawtooth.csv", duration: 4 * time.Hour, peakSubs: 3000, firstSubs: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := loadTrace(t, tt.name)
			if d := tr.Duration(); d != tt.duration {
				t.Errorf("duration = %v, want %v", d, tt.duration)
			}
			if _, s := tr.Peak(); s != tt.peakSubs {
				t.Errorf("peak subscribers = %d, want %d", s, tt.peakSubs)
			}
			if _, s := tr.At(0); s != tt.firstSubs {
				t.Errorf("subscribers at 0s = %d, want %d", s, tt.firstSubs)
			}
			if tt.reachesAtS > 0 {
				if _, s := tr.At(time.Duration(tt.reachesAtS-1) * time.Second); s >= tt.peakSubs {
					t.Errorf("peak reached before %ds", tt.reachesAtS)
				}
				if _, s := tr.At(time.Duration(tt.reachesAtS) * time.Second); s != tt.peakSubs {
					t.Errorf("subscribers at %ds = %d, want %d", tt.reachesAtS, s, tt.peakSubs)
				}
			}
		})
	}
}
