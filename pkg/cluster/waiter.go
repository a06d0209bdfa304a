package cluster

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/tandem-ci/tandem/pkg/waiter"
)

// The waiter lives in pkg/waiter so the init container's binary (cmd/tandem-wait) links
// only what waiting needs; these names keep pkg/cluster's API whole.
var (
	ErrJobFailed  = waiter.ErrJobFailed
	ErrJobMissing = waiter.ErrJobMissing
	ErrForbidden  = waiter.ErrForbidden
	ErrTimeout    = waiter.ErrTimeout
)

// JobRule is the Role rule the waiter needs.
const JobRule = waiter.JobRule

type (
	// JobResult is how a Job ended.
	JobResult = waiter.JobResult
	// WaitOption configures WaitForJob.
	WaitOption = waiter.WaitOption
)

// WaitForJob watches Job ns/name until it completes or fails (see waiter.WaitForJob).
func WaitForJob(ctx context.Context, kube kubernetes.Interface, ns, name string, opts ...WaitOption) (JobResult, error) {
	return waiter.WaitForJob(ctx, Clientset{kube}, ns, name, opts...)
}

// Clientset adapts a clientset to waiter.Client.
type Clientset struct{ kubernetes.Interface }

var _ waiter.Client = Clientset{}

// ListJobs implements waiter.Client.
func (c Clientset) ListJobs(ctx context.Context, ns string, o metav1.ListOptions) (*batchv1.JobList, error) {
	return c.BatchV1().Jobs(ns).List(ctx, o)
}

// WatchJobs implements waiter.Client.
func (c Clientset) WatchJobs(ctx context.Context, ns string, o metav1.ListOptions) (watch.Interface, error) {
	return c.BatchV1().Jobs(ns).Watch(ctx, o)
}

// ListPods implements waiter.Client.
func (c Clientset) ListPods(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.PodList, error) {
	return c.CoreV1().Pods(ns).List(ctx, o)
}

// PodLogs implements waiter.Client.
func (c Clientset) PodLogs(ctx context.Context, ns, pod string, o *corev1.PodLogOptions) ([]byte, error) {
	return c.CoreV1().Pods(ns).GetLogs(pod, o).DoRaw(ctx)
}

// Finished reports whether a Job is done, and its failure condition.
var Finished = waiter.Finished

// Wait options.
var (
	WithTimeout        = waiter.WithTimeout
	WithMissingTimeout = waiter.WithMissingTimeout
	WithLogLines       = waiter.WithLogLines
)

// Config and ConfigFromBytes load a client configuration (see pkg/waiter).
var (
	Config          = waiter.Config
	ConfigFromBytes = waiter.ConfigFromBytes
)
