package sobench

import (
	"testing"
	"time"
)

func TestParseSelfCPU(t *testing.T) {
	tests := []struct {
		name string
		stat string
		want time.Duration
		ok   bool
	}{
		{
			name: "plain", stat: "42 (shoal) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 8 0",
			want: 175 * clockTick, ok: true,
		},
		{
			name: "name with spaces and parens", stat: "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0",
			want: 10 * clockTick, ok: true,
		},
		{name: "truncated", stat: "42 (shoal) S 1 42", ok: false},
		{name: "no name", stat: "garbage", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseSelfCPU(tc.stat)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseSelfCPU = %s, %v, want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseMachineBusy(t *testing.T) {
	stat := "cpu  100 10 50 1000 30 5 5 2 0 0\ncpu0 50 5 25 500 15 2 3 1 0 0\ncpu1 50 5 25 500 15 3 2 1 0 0\nintr 1 2 3\n"
	busy, cpus, ok := parseMachineBusy(stat)
	if want := 172 * clockTick; busy != want || cpus != 2 || !ok {
		t.Errorf("parseMachineBusy = %s, %d, %v, want %s, 2, true", busy, cpus, ok, want)
	}
	if _, _, ok := parseMachineBusy("intr 1 2\n"); ok {
		t.Errorf("parseMachineBusy without a cpu line: ok, want not ok")
	}
}

func TestCPUPercent(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := cpuSample{at: t0, self: time.Second, busy: 10 * time.Second, ok: true}
	b := cpuSample{at: t0.Add(2 * time.Second), self: 2 * time.Second, busy: 13 * time.Second, ok: true}
	if self, machine := cpuPercent(a, b); self != 50 || machine != 150 {
		t.Errorf("cpuPercent = %g, %g, want 50, 150", self, machine)
	}
	if self, machine := cpuPercent(cpuSample{}, b); self != 0 || machine != 0 {
		t.Errorf("cpuPercent without /proc = %g, %g, want 0, 0", self, machine)
	}
}
