// Package testcluster gives tests a real Kubernetes control plane (internal/localcluster):
// started per test, stopped at its end, skipped locally and required in CI.
package testcluster

import (
	"context"
	"os"
	"testing"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/tandem-ci/tandem/internal/localcluster"
)

// Cluster is a running control plane.
type Cluster = localcluster.Cluster

// Option configures ForTest.
type Option = localcluster.Option

// NodeName is the fake node kwok manages.
const NodeName = localcluster.NodeName

// WithControllers also starts kube-controller-manager, kube-scheduler and kwok.
func WithControllers() Option { return localcluster.WithControllers() }

// FailJobPod plays the kubelet failing the Job's pod (see localcluster.FailJobPod).
var FailJobPod = localcluster.FailJobPod

// RunJobPods plays the kubelet running the Jobs' pods (see localcluster.RunJobPods).
var RunJobPods = localcluster.RunJobPods

// KeepOffNodes keeps a Job manifest's pod off every node (see localcluster.KeepOffNodes).
var KeepOffNodes = localcluster.KeepOffNodes

// ForTest starts a cluster for one test and stops it at the end. Without the binaries
// the test is skipped, unless CI is set: there the binaries must exist.
func ForTest(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	Require(t)
	c, err := localcluster.Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// Require skips (locally) or fails (in CI) a test when the binaries are missing.
func Require(t testing.TB) {
	t.Helper()
	if dir, ok := localcluster.Dir(); !ok {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but the test environment is missing in %s: .ci/run must run hack/testenv.sh", dir)
		}
		t.Skipf("Kubernetes test binaries not found in %s: run hack/testenv.sh to run this test", dir)
	}
}

// Start starts a control plane shared by several tests (e.g. from TestMain); callers Stop it.
var Start = localcluster.Start

// Dir returns the test environment folder and whether its binaries exist.
var Dir = localcluster.Dir

// WithFlux also starts the real source-controller and kustomize-controller.
func WithFlux() Option { return localcluster.WithFlux() }

// RequireFlux skips (locally) or fails (in CI) a test when the Flux controllers are not built.
func RequireFlux(t testing.TB) {
	t.Helper()
	Require(t)
	if !localcluster.HasFlux() {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but the Flux controllers are missing: .ci/run must run hack/testenv.sh")
		}
		t.Skip("Flux controllers not built: run hack/testenv.sh")
	}
}

// CreateJob creates a one-container migration Job ns/name (see localcluster.CreateJob).
func CreateJob(t testing.TB, kube localcluster.Kube, ns, name string) *batchv1.Job {
	t.Helper()
	job, err := localcluster.CreateJob(context.Background(), kube, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// FinishJob writes the terminal conditions of Job ns/name as the Job controller does.
func FinishJob(kube localcluster.Kube, ns, name string, ok bool) error {
	return localcluster.FinishJob(kube, ns, name, ok)
}
