package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// TestWaitCommands runs the k8s-wait-for compatible forms against a real API server.
func TestWaitCommands(t *testing.T) {
	c := testcluster.ForTest(t)
	t.Setenv("KUBECONFIG", "")
	for i, ok := range []bool{true, false} {
		name := []string{"done", "broken"}[i]
		testcluster.CreateJob(t, c.Kube, "default", name)
		if err := testcluster.FinishJob(c.Kube, "default", name, ok); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run(t, "job-wr", "done", "--kubeconfig", c.Kubeconfig, "-n", "default"); err != nil || !strings.Contains(out, "complete after") {
		t.Errorf("job-wr done = %v\n%s", err, out)
	}
	if out, err := run(t, "wait", "job", "done", "--kubeconfig", c.Kubeconfig, "-n", "default"); err != nil {
		t.Errorf("wait job done = %v\n%s", err, out)
	}
	_, err := run(t, "job", "broken", "--kubeconfig", c.Kubeconfig, "-n", "default")
	if !errors.Is(err, waiter.ErrJobFailed) || !strings.Contains(err.Error(), "BackoffLimitExceeded") {
		t.Errorf("job broken = %v", err)
	}
	_, err = run(t, "job-wr", "absent", "--kubeconfig", c.Kubeconfig, "-n", "default", "--missing-timeout", "500ms")
	if !errors.Is(err, waiter.ErrJobMissing) {
		t.Errorf("job-wr absent = %v", err)
	}
	_, err = run(t, "reconcile", "--source", "shop", "--kubeconfig", c.Kubeconfig, "-n", "default", "--timeout", time.Second.String())
	if !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("reconcile of a missing OCIRepository = %v", err)
	}
	_, err = run(t, "watch", "--app", "shop", "--tag", "v1.0.0", "--kubeconfig", c.Kubeconfig, "-n", "default", "--timeout", "500ms")
	if !errors.Is(err, waiter.ErrJobMissing) {
		t.Errorf("watch of a release never applied = %v", err)
	}
	if _, err := run(t, "wait", "pod", "x"); err == nil || !strings.Contains(err.Error(), "only jobs") {
		t.Errorf("wait pod = %v", err)
	}
}
