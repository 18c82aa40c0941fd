package agent

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// Linux reports these fields in USER_HZ, which is 100 on every
// architecture Go supports, whatever the kernel's internal HZ.
const clockTicks = 100

// procSample is the process's CPU time and resident memory at one moment.
type procSample struct {
	cpuTicks uint64 // utime + stime, in clockTicks per second
	rssBytes int64
}

// parseStat returns utime+stime from the contents of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may itself hold spaces
// and parentheses, so the fields are counted after the last ')'.
func parseStat(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("parse /proc stat: no ')' after the command name")
	}
	// After ") ": field 3 (state) is index 0, so utime (14) is 11, stime (15) is 12.
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("parse /proc stat: %d fields after the command name, want at least 13", len(fields))
	}
	utime, err := strconv.ParseUint(string(fields[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc stat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(string(fields[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc stat: stime: %w", err)
	}
	return utime + stime, nil
}

// parseStatm returns the resident set size in bytes from the contents of
// /proc/<pid>/statm (sizes in pages; resident is the second field).
func parseStatm(b []byte, pageSize int) (int64, error) {
	fields := bytes.Fields(b)
	if len(fields) < 2 {
		return 0, fmt.Errorf("parse /proc statm: %d fields, want at least 2", len(fields))
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc statm: resident: %w", err)
	}
	if pages < 0 || pages > math.MaxInt64/int64(max(pageSize, 1)) {
		return 0, fmt.Errorf("parse /proc statm: resident: page count %d out of range", pages)
	}
	return pages * int64(pageSize), nil
}
