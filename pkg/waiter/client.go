package waiter

import (
	"context"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/tandem-ci/tandem/internal/kuberest"
)

// Client is what the waiter asks the API server: Jobs (list, watch) and, for the log
// tail, pods (list, log). pkg/cluster adapts a full clientset; NewClient talks REST with
// a scheme of batch/v1 and core/v1 only, so the waiter's binary does not link every API
// group of client-go.
type Client interface {
	ListJobs(ctx context.Context, ns string, o metav1.ListOptions) (*batchv1.JobList, error)
	WatchJobs(ctx context.Context, ns string, o metav1.ListOptions) (watch.Interface, error)
	ListPods(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.PodList, error)
	PodLogs(ctx context.Context, ns, pod string, o *corev1.PodLogOptions) ([]byte, error)
}

type restClient struct {
	batch, core *rest.RESTClient
	params      runtime.ParameterCodec
}

// NewClient makes a Client for cfg that knows batch/v1 and core/v1 only.
func NewClient(cfg *rest.Config) (Client, error) {
	rcs, params, err := kuberest.Clients(cfg, []func(*runtime.Scheme) error{batchv1.AddToScheme, corev1.AddToScheme},
		batchv1.SchemeGroupVersion, corev1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return &restClient{batch: rcs[0], core: rcs[1], params: params}, nil
}

func (c *restClient) ListJobs(ctx context.Context, ns string, o metav1.ListOptions) (*batchv1.JobList, error) {
	var l batchv1.JobList
	err := c.batch.Get().Namespace(ns).Resource("jobs").VersionedParams(&o, c.params).Do(ctx).Into(&l)
	return &l, err
}

func (c *restClient) WatchJobs(ctx context.Context, ns string, o metav1.ListOptions) (watch.Interface, error) {
	o.Watch = true
	return c.batch.Get().Namespace(ns).Resource("jobs").VersionedParams(&o, c.params).Watch(ctx)
}

func (c *restClient) ListPods(ctx context.Context, ns string, o metav1.ListOptions) (*corev1.PodList, error) {
	var l corev1.PodList
	err := c.core.Get().Namespace(ns).Resource("pods").VersionedParams(&o, c.params).Do(ctx).Into(&l)
	return &l, err
}

func (c *restClient) PodLogs(ctx context.Context, ns, pod string, o *corev1.PodLogOptions) ([]byte, error) {
	return c.core.Get().Namespace(ns).Resource("pods").Name(pod).SubResource("log").VersionedParams(o, c.params).DoRaw(ctx)
}
