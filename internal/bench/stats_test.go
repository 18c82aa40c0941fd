package bench

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{name: "empty", values: nil, p: 50, want: 0},
		{name: "one value", values: []float64{7}, p: 5, want: 7},
		{name: "median of odd count", values: []float64{3, 1, 2}, p: 50, want: 2},
		{name: "median of even count is the lower middle", values: []float64{4, 1, 3, 2}, p: 50, want: 2},
		{name: "p5 of 20 is the smallest", values: seq(1, 20), p: 5, want: 1},
		{name: "p5 of 21 is the second", values: seq(1, 21), p: 5, want: 2},
		{name: "p5 of 100", values: seq(1, 100), p: 5, want: 5},
		{name: "p5 of 500", values: seq(1, 500), p: 5, want: 25},
		{name: "p50 of 500", values: seq(1, 500), p: 50, want: 250},
		{name: "p95 of 100", values: seq(1, 100), p: 95, want: 95},
		{name: "p100 is the largest", values: seq(1, 10), p: 100, want: 10},
		{name: "tiny p is the smallest", values: seq(1, 10), p: 0.001, want: 1},
		{name: "unsorted with ties", values: []float64{5, 0, 5, 0, 5}, p: 50, want: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.values, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.values, tc.p, got, tc.want)
			}
		})
	}
}

// seq returns from, from+1, ..., to in reverse order, so percentile has to
// sort.
func seq(from, to int) []float64 {
	var out []float64
	for i := to; i >= from; i-- {
		out = append(out, float64(i))
	}
	return out
}

func TestGapTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	tests := []struct {
		name        string
		packets     []time.Time
		endMS       int
		wantGap     time.Duration
		wantOK      bool
		wantStalled bool // with a 2s limit
	}{
		{name: "nothing received", endMS: 5000, wantStalled: true},
		{name: "steady packets", packets: at(0, 33, 66, 100, 133), endMS: 150, wantGap: 34 * time.Millisecond, wantOK: true},
		{name: "late first packet is not a stall", packets: at(4000, 4033), endMS: 4050, wantGap: 33 * time.Millisecond, wantOK: true},
		{name: "gap of exactly the limit is not a stall", packets: at(0, 2000, 2033), endMS: 2040, wantGap: 2000 * time.Millisecond, wantOK: true},
		{name: "gap over the limit", packets: at(0, 100, 2101, 2130), endMS: 2140, wantGap: 2001 * time.Millisecond, wantOK: true, wantStalled: true},
		{name: "silence until the end", packets: at(0, 33), endMS: 3000, wantGap: 2967 * time.Millisecond, wantOK: true, wantStalled: true},
		{name: "packet after the end", packets: at(0, 500, 3100), endMS: 3000, wantGap: 2600 * time.Millisecond, wantOK: true, wantStalled: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g gapTracker
			for _, p := range tc.packets {
				g.packet(p)
			}
			end := t0.Add(time.Duration(tc.endMS) * time.Millisecond)
			gap, ok := g.worstGap(end)
			if gap != tc.wantGap || ok != tc.wantOK {
				t.Errorf("worstGap = %v, %v, want %v, %v", gap, ok, tc.wantGap, tc.wantOK)
			}
			if got := g.stalled(end, 2*time.Second); got != tc.wantStalled {
				t.Errorf("stalled = %v, want %v", got, tc.wantStalled)
			}
		})
	}
}

func TestErrorTally(t *testing.T) {
	var tally errorTally
	for i := range 3 {
		tally.add(fmt.Errorf("play: read tcp 127.0.0.1:%d->127.0.0.1:1935: connection reset by peer", 40000+i))
	}
	tally.add(errors.New("connect: timeout"))
	for range 4 {
		tally.add(errors.New("play: NetStream.Play.StreamNotFound"))
	}
	tally.add(errors.New("z"))
	want := []ErrorCount{
		{Error: "play: NetStream.Play.StreamNotFound", Count: 4},
		{Error: "play: read tcp ADDR->ADDR: connection reset by peer", Count: 3},
		{Error: "connect: timeout", Count: 1},
	}
	if diff := cmp.Diff(want, tally.top(3)); diff != "" {
		t.Errorf("top(3) mismatch (-want +got):\n%s", diff)
	}
	if got := len(tally.top(10)); got != 4 {
		t.Errorf("len(top(10)) = %d, want 4", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "nginx worker",
			stat: "4242 (nginx) S 4241 4241 4241 0 -1 4194624 1234 0 0 0 250 130 0 0 20 0 1 0 123456 100000000 2000 18446744073709551615",
			want: 3800 * time.Millisecond,
		},
		{
			name: "command with spaces and parentheses",
			stat: "17 (a b) c) R 1 17 17 0 -1 0 0 0 0 0 7 3 0 0 20 0 9 0 1 1 1",
			want: 100 * time.Millisecond,
		},
		{name: "no command", stat: "17 R 1", wantErr: true},
		{name: "too few fields", stat: "17 (x) R 1 2 3", wantErr: true},
		{name: "not a number", stat: "17 (x) R 1 17 17 0 -1 0 0 0 0 0 x 3 0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseStatCPU error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseStatCPU = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tshoal-node\nVmPeak:\t 1300000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   70000 kB\nThreads:\t9\n"
	rss, hwm, err := parseStatusMemory([]byte(status))
	if err != nil || rss != 70000 || hwm != 81234 {
		t.Errorf("parseStatusMemory = %d, %d, %v, want 70000, 81234, nil", rss, hwm, err)
	}
	if _, _, err := parseStatusMemory([]byte("Name:\tx\nVmRSS:\t 1 kB\n")); err == nil {
		t.Error("parseStatusMemory without VmHWM: no error")
	}
}

func TestParseMachineCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    machineCPU
		wantErr bool
	}{
		{
			name: "two cpus",
			stat: "cpu  100 5 50 9999 20 3 2 40 7 0\ncpu0 50 2 25 5000 10 1 1 20 0 0\ncpu1 50 3 25 4999 10 2 1 20 7 0\nintr 1\n",
			want: machineCPU{busy: 2000 * time.Millisecond, total: 102190 * time.Millisecond, cpus: 2},
		},
		{name: "no cpu line", stat: "intr 1 2 3\n", wantErr: true},
		{name: "no cpuN lines", stat: "cpu 1 2 3 4 5 6 7 8\n", wantErr: true},
		{name: "too few counters", stat: "cpu 1 2 3\ncpu0 1 2 3\n", wantErr: true},
		{name: "not a number", stat: "cpu 1 2 3 4 5 6 x 8\ncpu0 1\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMachineCPU([]byte(tc.stat))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseMachineCPU = %+v, %v, want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestMachinePercent(t *testing.T) {
	before := machineCPU{busy: 10 * time.Second, total: 100 * time.Second, cpus: 2}
	after := machineCPU{busy: 25 * time.Second, total: 120 * time.Second, cpus: 2}
	// 20 s of ticks over 2 CPUs is 10 s of wall time; 15 s busy in it.
	if got := machinePercent(before, after); got != 150 {
		t.Errorf("machinePercent = %v, want 150", got)
	}
	if got := machinePercent(after, after); got != 0 {
		t.Errorf("machinePercent with no ticks = %v, want 0", got)
	}
}

func TestSampleProcsSelf(t *testing.T) {
	s := sampleProcs([]int{1 << 30, os.Getpid()})
	if s.errors != 1 {
		t.Errorf("errors = %d, want 1 (the pid that does not exist)", s.errors)
	}
	if s.rssKB == 0 || s.hwmKB < s.rssKB {
		t.Errorf("rss %d kB, peak %d kB: want a positive rss no larger than the peak", s.rssKB, s.hwmKB)
	}
}

func TestSplitStreamURL(t *testing.T) {
	tests := []struct {
		raw      string
		wantDial string
		wantName string
		wantErr  string
	}{
		{raw: "rtmp://127.0.0.1:1935/live/bench", wantDial: "rtmp://127.0.0.1:1935/live", wantName: "bench"},
		{raw: "rtmp://host/live/room/cam?token=x", wantDial: "rtmp://host/live", wantName: "room/cam?token=x"},
		{raw: "rtmp://host/live/", wantErr: "want rtmp://host[:port]/app/stream"},
		{raw: "rtmp://host/live", wantErr: "want rtmp://host[:port]/app/stream"},
		{raw: "http://host/live/x", wantErr: `scheme "http"`},
		{raw: "rtmp://host:bad/live/x", wantErr: "parse stream url"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			dial, name, err := splitStreamURL(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("splitStreamURL error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || dial != tc.wantDial || name != tc.wantName {
				t.Errorf("splitStreamURL = %q, %q, %v, want %q, %q, nil", dial, name, err, tc.wantDial, tc.wantName)
			}
		})
	}
}

func TestParseBitrate(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{in: "2500k", want: 2_500_000},
		{in: "2.5M", want: 2_500_000},
		{in: "800000", want: 800_000},
		{in: "128K", want: 128_000},
		{in: "", wantErr: true},
		{in: "k", wantErr: true},
		{in: "-5k", wantErr: true},
		{in: "1e20", wantErr: true},
		{in: "fast", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseBitrate(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseBitrate(%q) = %d, %v, want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
