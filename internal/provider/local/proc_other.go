//go:build !unix

package local

import (
	"os"
	"syscall"
)

// sysProcAttr has nothing to set where there are no process groups.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup kills the process; without process groups there is neither a
// group nor a gentle signal to send.
func signalGroup(p *os.Process, _ syscall.Signal) {
	_ = p.Kill()
}
