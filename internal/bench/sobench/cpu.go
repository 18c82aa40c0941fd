package sobench

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSample is the CPU time this process and the whole machine had used
// at one moment, from /proc; ok is false where /proc is missing.
type cpuSample struct {
	at          time.Time
	self, busy  time.Duration
	ok          bool
	machineCPUs int
}

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	self, err1 := os.ReadFile("/proc/self/stat")
	stat, err2 := os.ReadFile("/proc/stat")
	if err1 != nil || err2 != nil {
		return s
	}
	var ok1, ok2 bool
	s.self, ok1 = parseSelfCPU(string(self))
	s.busy, s.machineCPUs, ok2 = parseMachineBusy(string(stat))
	s.ok = ok1 && ok2
	return s
}

// parseSelfCPU returns utime+stime from /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may hold spaces, so fields are counted
// after the last ')'.
func parseSelfCPU(stat string) (time.Duration, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 { // fields 3..15; utime and stime are 14 and 15
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+st) * clockTick, true
}

// parseMachineBusy returns the non-idle time of all CPUs from /proc/stat
// (user, nice, system, irq, softirq, steal; not idle or iowait) and the
// number of CPUs.
func parseMachineBusy(stat string) (busy time.Duration, cpus int, ok bool) {
	for line := range strings.SplitSeq(stat, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "cpu":
			if len(f) < 9 {
				return 0, 0, false
			}
			for _, i := range []int{1, 2, 3, 6, 7, 8} {
				v, err := strconv.ParseUint(f[i], 10, 64)
				if err != nil {
					return 0, 0, false
				}
				busy += time.Duration(v) * clockTick
			}
			ok = true
		case len(f) > 0 && strings.HasPrefix(f[0], "cpu"):
			cpus++
		}
	}
	return busy, cpus, ok
}

// cpuPercent returns this process's and the machine's busy CPU between a
// and b, in percent of one CPU (200 is two CPUs busy), or zeros.
func cpuPercent(a, b cpuSample) (self, machine float64) {
	el := b.at.Sub(a.at)
	if !a.ok || !b.ok || el <= 0 {
		return 0, 0
	}
	return 100 * float64(b.self-a.self) / float64(el), 100 * float64(b.busy-a.busy) / float64(el)
}
