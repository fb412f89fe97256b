//go:build unix && !linux

package ppo

import "syscall"

// sysProcAttr puts the backend in its own process group.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
