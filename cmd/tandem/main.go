// Command tandem ships a database-backed service and its schema migration in tandem to
// Kubernetes with Flux. It only maps flags and environment onto the library in pkg/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGTERM (a pod being stopped, a cancelled CI job) cancels watches and pushes cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
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
