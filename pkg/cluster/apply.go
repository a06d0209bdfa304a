package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/kustomize/api/resmap"
)

// Applied lists what Apply applied and what the API server warned about.
type Applied struct {
	Objects  []string `json:"objects"`
	Warnings []string `json:"warnings,omitempty"`
}

type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.list, text) {
		w.list = append(w.list, text)
	}
}

// Apply server-side-applies every object of a kustomize build, in order, as field
// manager tandem, the way Flux's kustomize-controller applies them. API server warnings
// are returned, not logged.
func Apply(ctx context.Context, cfg *rest.Config, m resmap.ResMap) (Applied, error) {
	w := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = w
	objs, err := apply(ctx, cfg, m)
	return Applied{Objects: objs, Warnings: w.list}, err
}

func apply(ctx context.Context, cfg *rest.Config, m resmap.ResMap) ([]string, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := newMapper(cfg)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, r := range m.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return applied, err
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			return applied, err
		}
		gvk := obj.GroupVersionKind()
		gvr, err := mapper.resource(ctx, gvk)
		if err != nil {
			return applied, fmt.Errorf("mapping %s: %w", gvk, err)
		}
		var client dynamic.ResourceInterface = dyn.Resource(gvr)
		if ns := obj.GetNamespace(); ns != "" {
			client = dyn.Resource(gvr).Namespace(ns)
		}
		if _, err := client.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "tandem", Force: ptr.To(true)}); err != nil {
			return applied, fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		applied = append(applied, gvk.Kind+"/"+obj.GetName())
	}
	return applied, nil
}

// mapper finds the resource of a kind in the API server's discovery document of its
// group-version (one GET each, kept for the apply), as client-go's discovery does, without
// linking its Clientset's every API group into tandem (see pkg/kube).
type mapper struct {
	rc    *rest.RESTClient
	lists map[schema.GroupVersion][]metav1.APIResource
}

func newMapper(cfg *rest.Config) (*mapper, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(runtime.NewScheme()).WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &mapper{rc: rc, lists: map[schema.GroupVersion][]metav1.APIResource{}}, nil
}

// resource maps gvk to its resource; a kind not in a document read earlier reads it again
// (a CRD applied since).
func (m *mapper) resource(ctx context.Context, gvk schema.GroupVersionKind) (schema.GroupVersionResource, error) {
	gv := gvk.GroupVersion()
	for fresh := false; ; fresh = true {
		list, ok := m.lists[gv]
		if !ok || fresh {
			path := "/apis/" + gv.Group + "/" + gv.Version
			if gv.Group == "" {
				path = "/api/" + gv.Version
			}
			raw, err := m.rc.Get().AbsPath(path).DoRaw(ctx)
			if apierrors.IsNotFound(err) {
				return schema.GroupVersionResource{}, fmt.Errorf("the API server does not serve %s (is its CRD installed?)", gv)
			}
			if err != nil {
				return schema.GroupVersionResource{}, fmt.Errorf("reading the API server's resources of %s: %w", gv, err)
			}
			var l metav1.APIResourceList
			if err := json.Unmarshal(raw, &l); err != nil {
				return schema.GroupVersionResource{}, fmt.Errorf("reading the API server's resources of %s: %w", gv, err)
			}
			list = l.APIResources
			m.lists[gv] = list
		}
		for _, r := range list {
			if r.Kind == gvk.Kind && !strings.Contains(r.Name, "/") { // not a subresource
				return gv.WithResource(r.Name), nil
			}
		}
		if fresh {
			return schema.GroupVersionResource{}, fmt.Errorf("the API server serves no kind %s in %s", gvk.Kind, gv)
		}
	}
}
