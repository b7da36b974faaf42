package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the child when the test process dies
// (a panic or a -timeout would otherwise skip the test's cleanups and
// leave nodes holding ports and the matcher lock).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
