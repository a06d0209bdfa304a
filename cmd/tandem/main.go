// Command tandem ships a database-backed service and its schema migration in tandem to
// Kubernetes with Flux. It only maps flags and environment onto the library in pkg/.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	// SIGTERM (a pod being stopped, a cancelled CI job) cancels watches and pushes cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		report(root, os.Stdout, os.Stderr, err)
		os.Exit(1)
	}
}

// report tells why a command failed: on stderr, and with -o json also as a JSON object
// on stdout, so a script parsing stdout always gets JSON. A command that already printed
// its result (lint's findings) only sets the exit code.
func report(root *cobra.Command, stdout, stderr io.Writer, err error) {
	var exit *exitError
	if errors.As(err, &exit) {
		return
	}
	fmt.Fprintln(stderr, "tandem:", err)
	if f, _ := root.PersistentFlags().GetString("output"); f == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Error string `json:"error"`
		}{err.Error()})
	}
}

// exitError makes tandem exit non-zero after the command already reported why.
type exitError struct{ msg string }

func (e *exitError) Error() string { return e.msg }
