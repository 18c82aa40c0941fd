package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procSample is the CPU time and memory of a set of processes at one time.
type procSample struct {
	at     time.Time
	cpu    time.Duration // utime+stime summed over the processes
	rssKB  uint64        // VmRSS summed
	hwmKB  uint64        // VmHWM summed
	errors int           // processes that could not be read (gone)
}

// sampleProcs reads /proc for pids. A process that cannot be read is
// counted in errors, not fatal: a worker may exit during a run.
func sampleProcs(pids []int) procSample {
	s := procSample{at: time.Now()}
	for _, pid := range pids {
		cpu, err := procCPU(pid)
		if err != nil {
			s.errors++
			continue
		}
		s.cpu += cpu
		rss, hwm, err := procMemory(pid)
		if err != nil {
			s.errors++
			continue
		}
		s.rssKB += rss
		s.hwmKB += hwm
	}
	return s
}

// procCPU returns utime+stime of pid from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	return parseStatCPU(b)
}

// parseStatCPU returns utime+stime from the contents of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may hold spaces, so the
// fields are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc stat: no ')' after the command name")
	}
	// After ')': field 3 (state) is fields[0], so utime (14) and stime
	// (15) are fields[11] and fields[12].
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("parse /proc stat: %d fields after the command name, want at least 13", len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat: cpu time %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// procMemory returns VmRSS and VmHWM of pid in kB from /proc/<pid>/status.
func procMemory(pid int) (rssKB, hwmKB uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	return parseStatusMemory(b)
}

// parseStatusMemory returns VmRSS and VmHWM in kB from the contents of
// /proc/<pid>/status.
func parseStatusMemory(b []byte) (rssKB, hwmKB uint64, err error) {
	var found int
	for line := range bytes.Lines(b) {
		var dst *uint64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &rssKB
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &hwmKB
		default:
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			return 0, 0, fmt.Errorf("parse /proc status: line %q has no value", bytes.TrimSpace(line))
		}
		if *dst, err = strconv.ParseUint(string(f[1]), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("parse /proc status: %q: %w", bytes.TrimSpace(line), err)
		}
		found++
	}
	if found < 2 {
		return 0, 0, fmt.Errorf("parse /proc status: VmRSS or VmHWM missing")
	}
	return rssKB, hwmKB, nil
}

// machineCPU is the CPU time of the whole machine from /proc/stat.
type machineCPU struct {
	busy  time.Duration // user, nice, system, irq, softirq, steal, over all CPUs
	total time.Duration // busy plus idle and iowait
	cpus  int
}

// readMachineCPU reads /proc/stat.
func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, fmt.Errorf("read machine cpu time: %w", err)
	}
	return parseMachineCPU(b)
}

// parseMachineCPU reads the "cpu" line of /proc/stat (user nice system idle
// iowait irq softirq steal; guest time is already in user) and counts the
// "cpuN" lines.
func parseMachineCPU(b []byte) (machineCPU, error) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return machineCPU{}, fmt.Errorf("parse /proc/stat: first line %q, want cpu and 8 counters", line)
	}
	var m machineCPU
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("parse /proc/stat: counter %q: %w", v, err)
		}
		d := time.Duration(n) * time.Second / clockTicks
		m.total += d
		if i != 3 && i != 4 { // idle, iowait
			m.busy += d
		}
	}
	for l := range bytes.Lines(rest) {
		if len(l) > 3 && string(l[:3]) == "cpu" && l[3] >= '0' && l[3] <= '9' {
			m.cpus++
		}
	}
	if m.cpus == 0 {
		return machineCPU{}, fmt.Errorf("parse /proc/stat: no cpuN lines")
	}
	return m, nil
}

// machinePercent is the busy share of the machine between two samples,
// where 100 is one CPU busy: measured against the ticks that passed, not
// the wall clock, so a late sample cannot push it over 100 per CPU.
func machinePercent(before, after machineCPU) float64 {
	total := after.total - before.total
	if total <= 0 {
		return 0
	}
	return 100 * float64(after.cpus) * float64(after.busy-before.busy) / float64(total)
}

// ProcStats is what a set of processes used over a measurement window.
type ProcStats struct {
	PIDs       []int   `json:"pids"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUPercent is CPU time over wall time: 200 means two cores busy.
	CPUPercent float64 `json:"cpu_percent"`
	RSSKB      uint64  `json:"rss_kb"` // VmRSS at the end of the window
	HWMKB      uint64  `json:"hwm_kb"` // VmHWM (peak RSS) at the end of the window
	Unreadable int     `json:"unreadable,omitempty"`
}

// procStats compares two samples of the same processes.
func procStats(pids []int, before, after procSample) ProcStats {
	st := ProcStats{
		PIDs:       pids,
		CPUSeconds: (after.cpu - before.cpu).Seconds(),
		RSSKB:      after.rssKB,
		HWMKB:      after.hwmKB,
		Unreadable: max(before.errors, after.errors),
	}
	if wall := after.at.Sub(before.at).Seconds(); wall > 0 {
		st.CPUPercent = 100 * st.CPUSeconds / wall
	}
	return st
}
