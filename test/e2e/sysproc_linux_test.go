package e2e

import "syscall"

// dieWithParent makes the kernel kill a started process when the test
// binary dies, so that no process outlives a test even when the test
// binary is killed or times out.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
