//go:build !unix

package procgroup

import "os/exec"

// bind keeps exec's default (kill the process itself) where process groups do not exist.
func bind(*exec.Cmd) {}
