package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"dagger/tandem/doors"

	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/release"
)

// ReleaseResult is what a release did (or, with dryRun, would do).
type ReleaseResult struct {
	// The release tag
	Tag string
	// The migration Job's name, <app>-migration-<tag>
	JobName string
	// Service image, repository:tag@sha256:… (repository:tag when planned)
	ServiceImage string
	// Migration image, repository:tag@sha256:…
	MigrationImage string
	// The bump commit on the branch (the branch head when unchanged or superseded)
	Commit string
	// File holding IMAGE_TAG in the repository
	VariablesFile string
	// Artifact URL, oci://repository:tag
	ArtifactUrl string
	// Artifact digest, repository@sha256:…
	ArtifactDigest string
	// A newer tag already held the branch: nothing committed, artifact skipped
	Superseded bool
	// Only planned (dryRun): nothing was changed
	Planned bool
	// One line a step: name, status, detail
	Steps []string
	// The whole result as JSON (pkg/release.Result)
	Json string
}

// Release runs the whole CI side in one call: tag, both images (one build when
// possible, or prebuilt ones found by digest) with the same tag, IMAGE_TAG committed
// back with [skip ci] after checking the manifests run exactly those images, the
// manifests pushed as a Flux artifact, and with the constructor's kubeconfig a Flux
// reconcile. Every name comes from pkg/release.Resolve, as in `tandem release`.
// +cache="never"
func (m *Tandem) Release(
	ctx context.Context,
	// Release tag; default computed from pipelineId or commitSha
	// +optional
	tag string,
	// GitLab CI_PIPELINE_ID, for the tag v1.<id>.0
	// +optional
	pipelineId string,
	// Commit SHA, the tag fallback
	// +optional
	commitSha string,
	// The images were built elsewhere: check both exist instead of building
	// +optional
	prebuilt bool,
	// After the images, prove the migration on a throwaway PostgreSQL service before
	// anything is committed (see preflight)
	// +optional
	preflight bool,
	// The pre-flight's check of the current release's service: an HTTP path or a shell command
	// +optional
	compatCheck string,
	// Validate and return the plan only
	// +optional
	dryRun bool,
	// A deploy freeze window is open ($CI_DEPLOY_FREEZE): the release is refused
	// +optional
	deployFreeze bool,
) (*ReleaseResult, error) {
	a := m.args()
	a.Tag, a.PipelineId, a.CommitSha, a.Prebuilt, a.DeployFreeze = tag, pipelineId, commitSha, prebuilt, deployFreeze
	p, s, err := m.setup(ctx, a, false, preflight, compatCheck)
	if err != nil {
		return nil, err
	}
	if !p.Prebuilt {
		s.Images = &daggerImages{m: m, plan: p}
	}
	r, err := release.Build(ctx, p, s)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return releaseResult(r.Planned(), true), nil
	}
	res, err := r.Run(ctx)
	return releaseResult(res, false), err
}

// setup resolves the release (or rollback) of a and wires what the module provides: the
// services' traffic, the pre-flight's containers, the cluster.
func (m *Tandem) setup(ctx context.Context, a doors.ReleaseArgs, rollback, preflight bool, compatCheck string) (release.Plan, release.Setup, error) {
	token, pw, err := m.secrets(ctx)
	if err != nil {
		return release.Plan{}, release.Setup{}, err
	}
	cfg := a.Config(token, pw)
	cfg.Rollback = rollback
	p, err := release.Resolve(cfg)
	if err != nil {
		return p, release.Setup{}, release.ForDoor(err, doors.Fields)
	}
	if p, err = m.viaGitService(ctx, p); err != nil {
		return p, release.Setup{}, err
	}
	s := release.Setup{Registry: p.Registry(false)}
	if s.Registry, err = m.viaRegistryService(ctx, p, s.Registry); err != nil {
		return p, s, err
	}
	if preflight || rollback {
		if s.Checkout, s.Preflight, err = m.preflightSetup(ctx, p, compatCheck, "", ""); err != nil {
			return p, s, err
		}
	}
	if m.Kubeconfig != nil {
		if s.Dynamic, _, err = fluxClient(ctx, m.Kubeconfig, p.FluxNamespace); err != nil {
			return p, s, err
		}
		s.Reconcile = true
	}
	return p, s, nil
}

// releaseResult flattens a release.Result into fields a caller can chain.
func releaseResult(res release.Result, planned bool) *ReleaseResult {
	out := &ReleaseResult{Tag: res.Tag, Superseded: res.Superseded, Planned: planned}
	if p := res.Plan; p != nil {
		out.JobName, out.ServiceImage, out.MigrationImage, out.VariablesFile, out.ArtifactUrl = p.JobName, p.ServiceImage, p.MigrationImage, p.VariablesFile, p.ArtifactURL
	}
	if i := res.Images; i != nil {
		out.ServiceImage, out.MigrationImage = i.Service.Ref+"@"+i.Service.Digest, i.Migration.Ref+"@"+i.Migration.Digest
	}
	if c := res.Commit; c != nil {
		out.Commit = c.Commit
	}
	if a := res.Artifact; a != nil {
		out.ArtifactDigest = a.Digest
	}
	for _, s := range res.Steps {
		out.Steps = append(out.Steps, strings.TrimSpace(fmt.Sprintf("%s %s %s", s.Name, s.Status, s.Detail)))
	}
	out.Json = jsonString(res)
	return out
}

// jsonString is v as indented JSON.
func jsonString(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// daggerImages publishes with Dagger containers (Dockerfile builds) instead of the
// Go builder: it implements release.ImagePublisher.
type daggerImages struct {
	m    *Tandem
	plan release.Plan
}

var _ release.ImagePublisher = (*daggerImages)(nil)

func (d *daggerImages) PublishImages(ctx context.Context, t string) (image.Result, error) {
	start := time.Now()
	p, err := d.m.publish(ctx, d.plan.ServiceRepository, d.plan.MigrationRepository, t)
	if err != nil {
		return image.Result{}, err
	}
	return image.Result{Tag: t, Service: pushed(p.Service), Migration: pushed(p.Migration), Duration: time.Since(start)}, nil
}

func (d *daggerImages) Describe(t string) string {
	return fmt.Sprintf("docker build Dockerfile (and Dockerfile.migration unless derivable); push %s:%s and %s:%s", d.plan.ServiceRepository, t, d.plan.MigrationRepository, t)
}

// pushed splits repository:tag@sha256:… as Dagger's Publish returns it.
func pushed(ref string) image.Pushed {
	r, digest, _ := strings.Cut(ref, "@")
	return image.Pushed{Ref: r, Digest: digest, Uncounted: true} // the engine pushed it
}
