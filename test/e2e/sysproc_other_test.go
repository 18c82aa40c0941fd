//go:build !linux

package e2e

import "syscall"

// dieWithParent has no portable equivalent off Linux; the tests' cleanups
// still kill every process they start.
func dieWithParent() *syscall.SysProcAttr { return nil }
