//go:build unix

package local

import (
	"os"
	"syscall"
)

// signalGroup sends sig to the process group that p leads. Errors (the group
// is already gone) are ignored: the caller only wants it gone.
func signalGroup(p *os.Process, sig syscall.Signal) {
	_ = syscall.Kill(-p.Pid, sig)
}
