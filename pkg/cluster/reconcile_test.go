package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

func createFluxObjects(t *testing.T, dyn dynamic.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	repo := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
		"metadata": map[string]any{"name": "shop", "namespace": ns},
		"spec":     map[string]any{"interval": "10m", "url": "oci://registry.example.com/shop/manifests", "ref": map[string]any{"semver": ">=1.0.0"}},
	}}
	ks := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "shop", "namespace": ns},
		"spec":     map[string]any{"interval": "10m", "prune": true, "sourceRef": map[string]any{"kind": "OCIRepository", "name": "shop"}},
	}}
	for gvr, obj := range map[schema.GroupVersionResource]*unstructured.Unstructured{cluster.OCIRepository: repo, cluster.Kustomization: ks} {
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeFlux acts as source-controller and kustomize-controller: it handles each
// reconcile request by setting lastHandledReconcileAt and Ready (the real controllers
// cannot run here without their dependencies; the API server, CRDs and watches are real).
func fakeFlux(ctx context.Context, t *testing.T, dyn dynamic.Interface, ns string, ready map[schema.GroupVersionResource]string) {
	for gvr, message := range ready {
		go func() {
			w, err := dyn.Resource(gvr).Namespace(ns).Watch(ctx, metav1.ListOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			defer w.Stop()
			for ev := range w.ResultChan() {
				obj, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				req := obj.GetAnnotations()[cluster.RequestedAtAnnotation]
				last, _, _ := unstructured.NestedString(obj.Object, "status", "lastHandledReconcileAt")
				if req == "" || req == last {
					continue
				}
				status := "True"
				if message != "" {
					status = "False"
				}
				unstructured.SetNestedField(obj.Object, req, "status", "lastHandledReconcileAt")
				unstructured.SetNestedSlice(obj.Object, []any{map[string]any{
					"type": "Ready", "status": status, "reason": "Reconciled", "message": message + "applied",
					"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
				}}, "status", "conditions")
				// Where each controller records the revision: the source its artifact, the
				// Kustomization what it applied.
				if gvr == cluster.OCIRepository {
					unstructured.SetNestedMap(obj.Object, map[string]any{"revision": "v1.42.0@sha256:abc", "path": "ocirepository/shop.tar.gz",
						"url": "http://127.0.0.1/ocirepository/shop.tar.gz", "lastUpdateTime": time.Now().UTC().Format(time.RFC3339), "digest": "sha256:abc"}, "status", "artifact")
				} else {
					unstructured.SetNestedField(obj.Object, "v1.42.0@sha256:abc", "status", "lastAppliedRevision")
				}
				_, err := dyn.Resource(gvr).Namespace(ns).UpdateStatus(ctx, obj, metav1.UpdateOptions{})
				// A conflict means tandem wrote a newer request meanwhile; its event is
				// next on the watch and is handled then, as a controller would.
				if err != nil && !apierrors.IsConflict(err) && ctx.Err() == nil {
					t.Errorf("status update: %v", err)
				}
			}
		}()
	}
}

func TestReconcile(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	createFluxObjects(t, c.Dynamic, ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fakeFlux(ctx, t, c.Dynamic, ns, map[schema.GroupVersionResource]string{cluster.OCIRepository: "", cluster.Kustomization: ""})
	res, err := cluster.Reconcile(ctx, c.Dynamic, 20*time.Second,
		cluster.Target{Resource: cluster.OCIRepository, Namespace: ns, Name: "shop"},
		cluster.Target{Resource: cluster.Kustomization, Namespace: ns, Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Revision != "v1.42.0@sha256:abc" || res[1].Revision != "v1.42.0@sha256:abc" || res[0].RequestedAt == "" {
		t.Errorf("result = %+v", res)
	}
	obj, _ := c.Dynamic.Resource(cluster.OCIRepository).Namespace(ns).Get(ctx, "shop", metav1.GetOptions{})
	if obj.GetAnnotations()[cluster.RequestedAtAnnotation] != res[0].RequestedAt {
		t.Errorf("annotation not set on the OCIRepository")
	}
}

func TestReconcileErrors(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	createFluxObjects(t, c.Dynamic, ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	repo := cluster.Target{Resource: cluster.OCIRepository, Namespace: ns, Name: "shop"}

	_, err := cluster.Reconcile(ctx, c.Dynamic, time.Second, cluster.Target{Resource: cluster.OCIRepository, Namespace: ns, Name: "nope"})
	if !errors.Is(err, cluster.ErrNotFound) || !strings.Contains(err.Error(), "ocirepositories "+ns+"/nope") {
		t.Errorf("missing object = %v", err)
	}
	_, err = cluster.Reconcile(ctx, c.Dynamic, time.Second, repo)
	if !errors.Is(err, waiter.ErrTimeout) || !strings.Contains(err.Error(), "is the Flux controller running?") {
		t.Errorf("no controller = %v", err)
	}
	fakeFlux(ctx, t, c.Dynamic, ns, map[schema.GroupVersionResource]string{cluster.OCIRepository: "artifact not found: "})
	_, err = cluster.Reconcile(ctx, c.Dynamic, 20*time.Second, repo)
	if !errors.Is(err, cluster.ErrNotReady) || !strings.Contains(err.Error(), "artifact not found") {
		t.Errorf("Ready=False = %v", err)
	}
}
