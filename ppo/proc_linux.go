//go:build linux

package ppo

import "syscall"

// sysProcAttr puts the backend in its own process group (so Stop reaches
// anything it starts) and has the kernel send it SIGTERM if this process
// dies first, so no backend outlives its owner.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
