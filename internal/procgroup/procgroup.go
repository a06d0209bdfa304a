// Package procgroup runs a command in a process group of its own, so that ending it
// (its context ended: a deadline, SIGTERM, Ctrl-C) ends everything it started too: a
// shell's children, go build's compilers. Without it, a child holding the output pipe
// keeps Wait blocked long after the context ended.
package procgroup

import (
	"os/exec"
	"time"
)

// waitDelay bounds how long Wait waits for the output pipes once the group is killed.
const waitDelay = 2 * time.Second

// Bind makes cmd (made with exec.CommandContext) start in its own process group and,
// when its context ends, kill the whole group.
func Bind(cmd *exec.Cmd) {
	bind(cmd)
	cmd.WaitDelay = waitDelay
}
