package waiter

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
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
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{batchv1.AddToScheme, corev1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	codecs := serializer.NewCodecFactory(s).WithoutConversion()
	mk := func(api string, gv schema.GroupVersion) (*rest.RESTClient, error) {
		c := rest.CopyConfig(cfg)
		c.APIPath, c.GroupVersion, c.NegotiatedSerializer = api, &gv, codecs
		if c.UserAgent == "" {
			c.UserAgent = rest.DefaultKubernetesUserAgent()
		}
		rc, err := rest.RESTClientFor(c)
		if err != nil {
			return nil, fmt.Errorf("client for %s: %w", gv, err)
		}
		return rc, nil
	}
	batch, err := mk("/apis", batchv1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	core, err := mk("/api", corev1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return &restClient{batch: batch, core: core, params: runtime.NewParameterCodec(s)}, nil
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
