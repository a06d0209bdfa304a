package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
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
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
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
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return applied, fmt.Errorf("mapping %s: %w", gvk, err)
		}
		var client dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if ns := obj.GetNamespace(); ns != "" {
			client = dyn.Resource(mapping.Resource).Namespace(ns)
		}
		if _, err := client.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "tandem", Force: ptr.To(true)}); err != nil {
			return applied, fmt.Errorf("applying %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		applied = append(applied, gvk.Kind+"/"+obj.GetName())
	}
	return applied, nil
}
