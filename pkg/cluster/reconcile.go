package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/retry"

	"github.com/tandem-ci/tandem/pkg/waiter"
)

// RequestedAtAnnotation is the annotation `flux reconcile` sets.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// The Flux kinds tandem reconciles.
var (
	OCIRepository = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "ocirepositories"}
	Kustomization = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

var (
	// ErrNotFound is returned when the Flux object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotReady is returned when Flux handled the request and reported Ready=False.
	ErrNotReady = errors.New("not ready")
)

// Target is one Flux object to reconcile.
type Target struct {
	Resource  schema.GroupVersionResource
	Namespace string
	Name      string
}

func (t Target) String() string {
	return fmt.Sprintf("%s %s/%s", t.Resource.Resource, t.Namespace, t.Name)
}

// Reconciled is the outcome for one Target.
type Reconciled struct {
	Object      string        `json:"object"`
	RequestedAt string        `json:"requestedAt"`
	Revision    string        `json:"revision,omitempty"`
	Message     string        `json:"message,omitempty"`
	Duration    time.Duration `json:"duration"`
}

// Reconcile asks Flux to reconcile each target in order, the way `flux reconcile` does:
// it sets reconcile.fluxcd.io/requestedAt (retrying on conflicts) and waits until
// status.lastHandledReconcileAt matches and Ready is True. Ready=False after the request
// was handled fails with the controller's message.
func Reconcile(ctx context.Context, dyn dynamic.Interface, timeout time.Duration, targets ...Target) ([]Reconciled, error) {
	var out []Reconciled
	for _, t := range targets {
		r, err := reconcileOne(ctx, dyn, timeout, t)
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// reconcileOne requests a reconcile of t, then waits until the controller handled it,
// both within timeout.
func reconcileOne(ctx context.Context, dyn dynamic.Interface, timeout time.Duration, t Target) (Reconciled, error) {
	start := time.Now()
	res := Reconciled{Object: t.String(), RequestedAt: time.Now().Format(time.RFC3339Nano)}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout) // covers the request too
	defer cancel()
	if err := requestReconciliation(ctx, parent, dyn, timeout, t, res.RequestedAt); err != nil {
		return res, err
	}
	err := reconciliationHandled(ctx, parent, dyn, timeout, t, &res)
	res.Duration = time.Since(start)
	return res, err
}

// requestReconciliation sets the reconcile.fluxcd.io/requestedAt annotation of t to at
// (as `flux reconcile` does), retrying on conflicts.
func requestReconciliation(ctx, parent context.Context, dyn dynamic.Interface, timeout time.Duration, t Target, at string) error {
	client := dyn.Resource(t.Resource).Namespace(t.Namespace)
	var last error
	err := retry.RetryOnConflict(retry.DefaultRetry, func() (err error) {
		defer func() { last = err }()
		obj, err := client.Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[RequestedAtAnnotation] = at
		obj.SetAnnotations(ann)
		_, err = client.Update(ctx, obj, metav1.UpdateOptions{FieldManager: "tandem"})
		return err
	})
	if err == nil {
		// retry.OnError turns a context error of the last attempt into nil
		// (wait.Interrupted): keep what the request really returned.
		err = last
	}
	switch {
	case err != nil && parent.Err() != nil:
		return fmt.Errorf("requesting reconcile of %s: %w", t, context.Cause(parent))
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("requesting reconcile of %s: %w", t, waiter.ContextError(ctx, timeout))
	case apierrors.IsNotFound(err):
		return fmt.Errorf("requesting reconcile of %s: %w: create it (flux create source oci / flux create kustomization) or pass the right name", t, ErrNotFound)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("requesting reconcile of %s: %w: grant get and patch/update on %s (%v)", t, waiter.ErrForbidden, t.Resource.GroupResource(), err)
	case err != nil:
		return fmt.Errorf("requesting reconcile of %s: %w", t, err)
	}
	return nil
}

// reconciliationHandled watches t until status.lastHandledReconcileAt is res.RequestedAt
// and Ready is True with a revision (nil) or False (ErrNotReady); res gets the revision and
// the message. Status, rollback and watch can wait on it alone.
func reconciliationHandled(ctx, parent context.Context, dyn dynamic.Interface, timeout time.Duration, t Target, res *Reconciled) error {
	client := dyn.Resource(t.Resource).Namespace(t.Namespace)
	lw := waiter.ByName(t.Name, client.List, client.Watch)
	var ready, handled, synced bool
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, func(cache.Store) (bool, error) {
		synced = true
		return false, nil
	}, func(ev watch.Event) (bool, error) {
		obj, ok := ev.Object.(*unstructured.Unstructured)
		if !ok || ev.Type == watch.Deleted {
			return false, nil
		}
		last, _, _ := unstructured.NestedString(obj.Object, "status", "lastHandledReconcileAt")
		if last != res.RequestedAt {
			return false, nil
		}
		handled = true
		status, msg := ReadyCondition(obj)
		res.Message = msg
		res.Revision = Revision(obj)
		switch status {
		case "True":
			if res.Revision == "" {
				// source-controller may report Ready before the status write that
				// carries the artifact: ready means ready with its revision.
				return false, nil
			}
			ready = true
			return true, nil
		case "False":
			return true, nil
		}
		return false, nil
	})
	switch {
	case err != nil && parent.Err() != nil:
		return fmt.Errorf("waiting for %s: %w", t, context.Cause(parent))
	case err != nil && !synced:
		return fmt.Errorf("watching %s: %w", t, waiter.ContextError(ctx, timeout))
	case err != nil && !handled:
		return fmt.Errorf("waiting for %s to handle the reconcile request: %w after %s: is the Flux controller running?", t, waiter.ErrTimeout, timeout)
	case err != nil:
		return fmt.Errorf("waiting for %s to become ready: %w after %s (last message: %s)", t, waiter.ErrTimeout, timeout, res.Message)
	case !ready:
		return fmt.Errorf("%s: %w: %s", t, ErrNotReady, res.Message)
	}
	return nil
}

// ReadyCondition is a Flux object's Ready condition: its status ("" without one) and message.
func ReadyCondition(obj *unstructured.Unstructured) (status, message string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Ready" {
			s, _ := m["status"].(string)
			msg, _ := m["message"].(string)
			return s, msg
		}
	}
	return "", ""
}

// Revision is what a Flux object holds: an OCIRepository's artifact revision, else a
// Kustomization's last applied revision.
func Revision(obj *unstructured.Unstructured) string {
	if r, ok, _ := unstructured.NestedString(obj.Object, "status", "artifact", "revision"); ok {
		return r
	}
	r, _, _ := unstructured.NestedString(obj.Object, "status", "lastAppliedRevision")
	return r
}

// FluxTargets are the OCIRepository source and, when kustomization is not empty, the
// Kustomization, both in ns: reconciled in that order.
func FluxTargets(ns, source, kustomization string) []Target {
	targets := []Target{{Resource: OCIRepository, Namespace: ns, Name: source}}
	if kustomization != "" {
		targets = append(targets, Target{Resource: Kustomization, Namespace: ns, Name: kustomization})
	}
	return targets
}
