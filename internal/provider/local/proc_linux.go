package local

import "syscall"

// sysProcAttr puts the node in its own process group, so that signals reach
// everything it starts, and asks the kernel to kill it if the manager dies
// without Close (a crashed manager must not leave nodes behind). Pdeathsig
// fires when the creating OS thread exits; Go only ends threads that a
// goroutine locked and abandoned, which Create never runs on.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
