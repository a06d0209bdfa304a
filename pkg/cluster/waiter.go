package cluster

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// WaitForJob watches Job ns/name until it completes or fails (see waiter.WaitForJob; its
// errors, options and results are pkg/waiter's, which the init container links alone).
func WaitForJob(ctx context.Context, kube kube.Interface, ns, name string, opts ...waiter.WaitOption) (waiter.JobResult, error) {
	return waiter.WaitForJob(ctx, Clientset{kube}, ns, name, opts...)
}

// Clientset adapts a clientset to waiter.Client.
type Clientset struct{ kube.Interface }

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
