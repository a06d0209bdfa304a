package cluster_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// TestReleaseOnCluster applies tandem's rendered manifests to a cluster with real
// controllers (kwok plays the kubelet): the migration Job completes, the waiter running
// as the rendered ServiceAccount (real RBAC) lets pods start, the Deployment rolls out.
// Then a release whose migration pod fails: WatchRelease and the waiter both fail fast
// with the Job's reason. kwok does not execute init containers, so the gating itself is
// shown through the waiter's exit, which is what a kubelet acts on.
func TestReleaseOnCluster(t *testing.T) {
	c := testcluster.ForTest(t, testcluster.WithControllers())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	spec := manifest.Spec{App: "shop", Namespace: "shop", Image: "registry.example.com/shop", MigrationCommand: []string{"/app/shop", "migrate"}, WaiterLogs: true}
	if _, err := manifest.Render(dir, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply := func(tag string) {
		t.Helper()
		m, err := manifest.BuildWithTag(context.Background(), dir, tag)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cluster.Apply(ctx, c.Config, m); err != nil {
			t.Fatal(err)
		}
	}
	// Release 1: the migration succeeds.
	apply("v1.1.0")
	sa := saClient(t, c, "shop", "shop")
	gate := make(chan error, 1)
	go func() {
		_, err := cluster.WaitForJob(ctx, sa, "shop", "shop-migration-v1.1.0", waiter.WithTimeout(time.Minute))
		gate <- err
	}()
	ro, err := cluster.WatchRelease(ctx, c.Kube, "shop", "shop", "v1.1.0", time.Minute)
	if err != nil {
		t.Fatalf("release 1: %v (logs in %s)", err, c.LogDir())
	}
	if err := <-gate; err != nil {
		t.Errorf("waiter as ServiceAccount shop: %v", err)
	}
	if ro.Available != 2 || !ro.Job.Succeeded {
		t.Errorf("rollout = %+v", ro)
	}
	t.Logf("release 1: job complete after %s, deployment 2/2 after %s more", ro.JobWait.Round(time.Millisecond), ro.RolloutWait.Round(time.Millisecond))

	// Release 2: the migration pod fails.
	if err := testcluster.KeepOffNodes(filepath.Join(dir, "migration-job.yaml")); err != nil {
		t.Fatal(err)
	}
	apply("v1.2.0")
	go testcluster.FailJobPod(ctx, c.Kube, "shop", "shop-migration-v1.2.0")
	go func() {
		_, err := cluster.WaitForJob(ctx, sa, "shop", "shop-migration-v1.2.0", waiter.WithTimeout(time.Minute))
		gate <- err
	}()
	ro, err = cluster.WatchRelease(ctx, c.Kube, "shop", "shop", "v1.2.0", time.Minute)
	if !errors.Is(err, waiter.ErrJobFailed) || ro.Job.Reason != "BackoffLimitExceeded" || ro.Job.Pod == "" {
		t.Fatalf("release 2 = %+v, %v; want ErrJobFailed BackoffLimitExceeded naming the pod", ro.Job, err)
	}
	if err := <-gate; !errors.Is(err, waiter.ErrJobFailed) {
		t.Errorf("waiter for the failed migration = %v, want ErrJobFailed (non-zero exit, pod never starts)", err)
	}
	t.Logf("release 2: %v; log tail: %q %s", err, ro.Job.Logs, ro.Job.LogError)
}
