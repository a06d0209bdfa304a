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
	"runtime/trace"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	// SIGTERM (a pod being stopped, a cancelled CI job) cancels watches and pushes cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRootCmd()
	endTrace := startTrace(os.Getenv("TANDEM_TRACE"))
	err := root.ExecuteContext(ctx)
	endTrace()
	stop()
	if err != nil {
		report(root, os.Args[1:], os.Stdout, os.Stderr, err)
		os.Exit(exitCode(err))
	}
}

// startTrace writes an execution trace of the run to path (TANDEM_TRACE; read it with
// `go tool trace`, or a CPU profile of it with `go tool trace -pprof=sched`) and returns
// what ends it. Empty path: nothing.
func startTrace(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = trace.Start(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tandem: TANDEM_TRACE=%s: %v (no trace written)\n", path, err)
		return func() {}
	}
	return func() { trace.Stop(); f.Close() }
}

// exitCode is 1, or the code an exitError asks for (tandem status's states).
func exitCode(err error) int {
	var exit *exitError
	if errors.As(err, &exit) && exit.code != 0 {
		return exit.code
	}
	return 1
}

// report tells why a command failed: on stderr, and with -o json also as a JSON object
// on stdout, so a script parsing stdout always gets JSON. A command that already printed
// its result (lint's findings) only sets the exit code.
func report(root *cobra.Command, args []string, stdout, stderr io.Writer, err error) {
	var exit *exitError
	if errors.As(err, &exit) {
		return
	}
	fmt.Fprintln(stderr, "tandem:", strings.TrimSpace(err.Error()))
	if f, _ := root.PersistentFlags().GetString("output"); f == "json" || wantsJSON(args) {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Error string `json:"error"`
		}{strings.TrimSpace(err.Error())})
	}
}

// wantsJSON reports whether args ask for -o json: when parsing stopped at a bad flag or
// an unknown command, the flags after it were never read.
func wantsJSON(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-o" || a == "--output":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		case a == "-ojson" || a == "-o=json" || a == "--output=json":
			return true
		}
	}
	return false
}

// exitError makes tandem exit non-zero after the command already reported why.
type exitError struct {
	msg  string
	code int // 0: 1
}

func (e *exitError) Error() string { return e.msg }
