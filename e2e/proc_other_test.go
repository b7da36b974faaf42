//go:build !linux

package e2e

import "os/exec"

// dieWithParent does nothing here: only Linux has a parent-death signal,
// so a test process that dies without its cleanups leaves the nodes.
func dieWithParent(*exec.Cmd) {}
