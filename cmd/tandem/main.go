// Command tandem ships a database-backed service and its schema migration in tandem to
// Kubernetes with Flux. It only maps flags and environment onto the library in pkg/.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var exit *exitError
		if !errors.As(err, &exit) {
			fmt.Fprintln(os.Stderr, "tandem:", err)
		}
		os.Exit(1)
	}
}

// exitError makes tandem exit non-zero after the command already reported why.
type exitError struct{ msg string }

func (e *exitError) Error() string { return e.msg }
