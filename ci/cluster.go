package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"dagger/tandem/internal/dagger"
	"k8s.io/client-go/dynamic"

	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// Reconcile asks Flux to reconcile the OCIRepository (then the Kustomization) and waits
// until Ready, as `flux reconcile` does.
// +cache="never"
func (m *Tandem) Reconcile(
	ctx context.Context,
	// How long to wait for the objects to be Ready
	// +optional
	// +default="5m"
	timeout string,
) (string, error) {
	if m.Kubeconfig == nil {
		return "", errors.New("reconcile needs the cluster: give the constructor's kubeconfig")
	}
	d, err := time.ParseDuration(timeout)
	if err != nil {
		return "", fmt.Errorf("timeout %q: %w", timeout, err)
	}
	dyn, ns, err := fluxClient(ctx, m.Kubeconfig, m.FluxNamespace)
	if err != nil {
		return "", err
	}
	res, err := cluster.Reconcile(ctx, dyn, d, release.FluxTargets(ns, firstOf(m.FluxName, m.App), m.FluxKustomization)...)
	var lines []string
	for _, r := range res {
		lines = append(lines, fmt.Sprintf("%s ready at %s", r.Object, r.Revision))
	}
	return strings.Join(lines, "\n"), err
}

// kubeClients are the clients and namespace of a kubeconfig secret.
func kubeClients(ctx context.Context, kubeconfig *dagger.Secret, namespace string) (kube.Interface, dynamic.Interface, string, error) {
	kc, err := kubeconfig.Plaintext(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	cfg, ns, err := waiter.ConfigFromBytes([]byte(kc), namespace)
	if err != nil {
		return nil, nil, "", err
	}
	kube, err := kube.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	return kube, dyn, ns, err
}

func fluxClient(ctx context.Context, kubeconfig *dagger.Secret, namespace string) (dynamic.Interface, string, error) {
	_, dyn, ns, err := kubeClients(ctx, kubeconfig, namespace)
	return dyn, ns, err
}
