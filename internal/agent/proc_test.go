package agent

import (
	"runtime"
	"strings"
	"testing"
)

// statCases is the table for parseStat: decode tests and fuzz seeds.
var statCases = []struct {
	name    string
	raw     string
	want    uint64
	wantErr string
}{
	{
		name: "plain", raw: "1234 (shoal-node) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 1000 200",
		want: 300,
	},
	{name: "command with spaces and parens", raw: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 9 1 0 0 20 0 1 0 5 6 7", want: 10},
	{name: "no command", raw: "1234 S 1", wantErr: "no ')'"},
	{name: "truncated", raw: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 7", wantErr: "fields after the command name"},
	{name: "bad utime", raw: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 1 0", wantErr: "utime"},
	{name: "bad stime", raw: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 -1 0", wantErr: "stime"},
}

func TestParseStat(t *testing.T) {
	for _, tc := range statCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.raw))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseStat(%q) = %d, %v; want an error containing %q", tc.raw, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseStat(%q) = %d, %v; want %d", tc.raw, got, err, tc.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	for _, tc := range statCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStat(b) // must not panic
	})
}

// statmCases is the table for parseStatm: decode tests and fuzz seeds.
var statmCases = []struct {
	name    string
	raw     string
	want    int64
	wantErr string
}{
	{name: "plain", raw: "5000 1200 300 10 0 900 0\n", want: 1200 * 4096},
	{name: "two fields", raw: "1 2", want: 2 * 4096},
	{name: "one field", raw: "5000", wantErr: "1 fields"},
	{name: "empty", raw: "", wantErr: "0 fields"},
	{name: "not a number", raw: "1 x 3", wantErr: "resident"},
	{name: "negative", raw: "1 -3 3", wantErr: "out of range"},
	{name: "overflows bytes", raw: "0 2270000000000000", wantErr: "out of range"},
}

func TestParseStatm(t *testing.T) {
	for _, tc := range statmCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatm([]byte(tc.raw), 4096)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseStatm(%q) = %d, %v; want an error containing %q", tc.raw, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseStatm(%q) = %d, %v; want %d", tc.raw, got, err, tc.want)
			}
		})
	}
}

func FuzzParseStatm(f *testing.F) {
	for _, tc := range statmCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if rss, err := parseStatm(b, 4096); err == nil && rss < 0 {
			t.Fatalf("parseStatm(%q) = %d, want >= 0", b, rss)
		}
	})
}

func TestReadProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("SKIPPED LOUDLY: /proc is Linux only, running on %s", runtime.GOOS)
	}
	before, err := readProc()
	if err != nil {
		t.Fatalf("readProc: %v", err)
	}
	if before.rssBytes < 1<<20 {
		t.Errorf("rss = %d bytes, want at least 1 MiB for a Go test binary", before.rssBytes)
	}
	// Burn some CPU; utime+stime must not go back.
	x := 0
	for i := range 50_000_000 {
		x += i ^ x
	}
	after, err := readProc()
	if err != nil {
		t.Fatalf("readProc: %v", err)
	}
	if after.cpuTicks < before.cpuTicks || x == 1 {
		t.Errorf("cpu ticks went from %d to %d", before.cpuTicks, after.cpuTicks)
	}
}
