// Package kuberest makes client-go REST clients for a few API groups with a scheme of
// those groups only (pkg/kube, pkg/waiter): linking client-go's Clientset registers every
// API group at start-up.
package kuberest

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// Clients returns a REST client of cfg for each group-version in gvs (in order), with a
// scheme made of adds, and the parameter codec of that scheme.
func Clients(cfg *rest.Config, adds []func(*runtime.Scheme) error, gvs ...schema.GroupVersion) ([]*rest.RESTClient, runtime.ParameterCodec, error) {
	s := runtime.NewScheme()
	for _, add := range adds {
		if err := add(s); err != nil {
			return nil, nil, err
		}
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	codecs := serializer.NewCodecFactory(s).WithoutConversion()
	clients := make([]*rest.RESTClient, len(gvs))
	for i, gv := range gvs {
		c := rest.CopyConfig(cfg)
		c.APIPath = "/apis"
		if gv.Group == "" {
			c.APIPath = "/api"
		}
		c.GroupVersion, c.NegotiatedSerializer = &gv, codecs
		if c.UserAgent == "" {
			c.UserAgent = rest.DefaultKubernetesUserAgent()
		}
		rc, err := rest.RESTClientFor(c)
		if err != nil {
			return nil, nil, fmt.Errorf("client for %s: %w", gv, err)
		}
		clients[i] = rc
	}
	return clients, runtime.NewParameterCodec(s), nil
}
