//go:build unix && !linux

package local

import "syscall"

// sysProcAttr puts the node in its own process group, so that signals reach
// everything it starts.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
