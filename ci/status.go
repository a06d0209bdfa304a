package main

import (
	"context"

	"dagger/tandem/doors"

	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/status"
)

// StatusResult is what is live.
type StatusResult struct {
	// The verdict: "live v1.43.0, consistent", or the first thing that disagrees
	Verdict string
	// consistent, progressing, inconsistent or failed
	State string
	// The release the branch holds
	Tag string
	// Everything that disagrees
	Problems []string
	// The whole report as JSON (pkg/status.Report)
	Json string
}

// Status joins the branch's release across git, the registry and, with the
// constructor's kubeconfig, Flux and the cluster (pkg/status, as `tandem status`).
// +cache="never"
func (m *Tandem) Status(
	ctx context.Context,
	// Also list the last N releases of the branch
	// +optional
	history int,
	// Namespace of the app (default: the kubeconfig context's)
	// +optional
	appNamespace string,
) (*StatusResult, error) {
	token, pw, err := m.secrets(ctx)
	if err != nil {
		return nil, err
	}
	p, err := release.ResolveSteps(m.args().Config(token, pw), release.StepStatus)
	if err != nil {
		return nil, release.ForDoor(err, doors.Fields)
	}
	if p, err = m.viaGitService(ctx, p); err != nil {
		return nil, err
	}
	cfg := status.Config{Plan: p, Registry: p.Registry(false), History: history, Namespace: appNamespace}
	if cfg.Registry, err = m.viaRegistryService(ctx, p, cfg.Registry); err != nil {
		return nil, err
	}
	if m.Kubeconfig != nil {
		if cfg.Kube, cfg.Dynamic, cfg.Namespace, err = kubeClients(ctx, m.Kubeconfig, appNamespace); err != nil {
			return nil, err
		}
	}
	rep, err := status.Look(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &StatusResult{Verdict: rep.Verdict, State: string(rep.State), Tag: rep.Tag, Problems: rep.Problems, Json: jsonString(rep)}, nil
}
