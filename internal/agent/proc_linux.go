package agent

import (
	"os"
)

// readProc reads the CPU time and resident memory of this process.
func readProc() (procSample, error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procSample{}, err
	}
	ticks, err := parseStat(stat)
	if err != nil {
		return procSample{}, err
	}
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return procSample{}, err
	}
	rss, err := parseStatm(statm, os.Getpagesize())
	if err != nil {
		return procSample{}, err
	}
	return procSample{cpuTicks: ticks, rssBytes: rss}, nil
}
