//go:build !linux

package agent

import "errors"

// errProcUnsupported: the platform has no /proc to read.
var errProcUnsupported = errors.New("process statistics not supported on this platform")

// readProc reports that this platform has no /proc; reports then carry
// zero CPU and memory.
func readProc() (procSample, error) { return procSample{}, errProcUnsupported }
