// Command tandem-wait is the init container that keeps a service's pods from starting
// until its migration Job completed: a drop-in for groundnuty/k8s-wait-for's job
// waiting (`tandem-wait job-wr NAME`, `tandem-wait job NAME`), that fails at once with
// the Job's reason and log tail when the migration fails. It links only what waiting
// needs (client-go), so its image stays small; `tandem wait` does the same.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-ci/tandem/pkg/waiter"
)

const usage = `usage: tandem-wait [flags] job-wr NAME | job NAME | wait job NAME

Waits for Job NAME (in the pod's namespace, or -n) to complete; exits 1 at once when it
fails, printing its reason and the failed pod's log tail. Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: arguments in, exit code out.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tandem-wait", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")
	namespace := fs.String("n", "", "namespace (default: the pod's)")
	timeout := fs.Duration("timeout", waiter.DefaultTimeout, "give up after this long")
	missing := fs.Duration("missing-timeout", waiter.DefaultMissingTimeout, "how long a missing Job is waited for")
	lines := fs.Int64("log-lines", 20, "log lines of the failed pod to print")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	// k8s-wait-for puts the mode first; flags may come before or after it.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		args = fs.Args()
		if len(args) > 0 {
			pos, args = append(pos, args[0]), args[1:]
		}
	}
	if len(pos) == 3 && pos[0] == "wait" {
		pos = pos[1:]
	}
	if len(pos) != 2 || (pos[0] != "job" && pos[0] != "job-wr") {
		fmt.Fprintf(stderr, "tandem-wait: got %q: only jobs can be waited for\n", strings.Join(pos, " "))
		fs.Usage()
		return 2
	}
	name := pos[1]
	cfg, ns, err := waiter.Config(*kubeconfig, *namespace)
	if err != nil {
		fmt.Fprintln(stderr, "tandem-wait:", err)
		return 1
	}
	cfg.UserAgent = "tandem-wait"
	kube, err := waiter.NewClient(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "tandem-wait:", err)
		return 1
	}
	fmt.Fprintf(stderr, "waiting for job %s/%s\n", ns, name)
	res, err := waiter.WaitForJob(ctx, kube, ns, name, waiter.WithTimeout(*timeout), waiter.WithMissingTimeout(*missing), waiter.WithLogLines(*lines))
	if err != nil {
		if errors.Is(err, waiter.ErrJobFailed) {
			if res.Logs != "" {
				fmt.Fprintf(stderr, "--- last %d log lines of pod %s ---\n%s\n---\n", *lines, res.Pod, strings.TrimRight(res.Logs, "\n"))
			} else if res.LogError != "" {
				fmt.Fprintln(stderr, "log tail:", res.LogError)
			}
		}
		fmt.Fprintln(stderr, "tandem-wait:", err)
		return 1
	}
	fmt.Fprintf(stdout, "job %s/%s complete after %s\n", ns, name, res.Waited.Round(time.Millisecond))
	return 0
}
