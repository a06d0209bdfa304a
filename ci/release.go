package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/release"
)

// Release runs the whole CI side in one call: tag, both images (one build when
// possible) with the same tag, IMAGE_TAG committed back with [skip ci], the manifests
// pushed as a Flux artifact, and optionally a Flux reconcile. Returns the result as JSON.
func (m *Tandem) Release(
	ctx context.Context,
	// Project source
	// +defaultPath="/"
	source *dagger.Directory,
	// App name
	app string,
	// Registry and namespace, e.g. registry.gitlab.com/acme
	registry string,
	// Repository to commit IMAGE_TAG to
	repoUrl string,
	// Branch to commit to
	branch string,
	// Token with write access to the repository
	gitToken *dagger.Secret,
	// Release tag; default computed from pipelineId or commitSha
	// +optional
	tag string,
	// GitLab CI_PIPELINE_ID, for the tag v1.<id>.0
	// +optional
	pipelineId string,
	// Commit SHA, the tag fallback
	// +optional
	commitSha string,
	// Tag format over .PipelineID .ShortSHA .CommitSHA .Branch
	// +optional
	tagFormat string,
	// Registry user
	// +optional
	registryUsername string,
	// Registry password or token
	// +optional
	registryPassword *dagger.Secret,
	// Artifact repository (default <registry>/<app>/manifests)
	// +optional
	artifactRepository string,
	// Manifests folder in the repository
	// +optional
	// +default="k8s"
	path string,
	// Kubeconfig: when given, ask Flux to reconcile after the push
	// +optional
	kubeconfig *dagger.Secret,
	// Namespace of the Flux objects
	// +optional
	// +default="flux-system"
	fluxNamespace string,
	// OCIRepository name (default: app)
	// +optional
	fluxName string,
	// Print the plan only
	// +optional
	dryRun bool,
) (string, error) {
	t, err := releaseTag(tag, pipelineId, commitSha, tagFormat)
	if err != nil {
		return "", err
	}
	svcRepo, migRepo, err := image.Repositories(registry, app, "", "")
	if err != nil {
		return "", err
	}
	cfg, err := commitConfig(ctx, repoUrl, branch, gitToken, app, "", "", false)
	if err != nil {
		return "", err
	}
	pw, err := plaintext(ctx, registryPassword)
	if err != nil {
		return "", err
	}
	if artifactRepository == "" {
		artifactRepository = svcRepo + "/manifests"
	}
	r := &release.Release{
		Images: &daggerImages{m: m, source: source, registry: registry, app: app, user: registryUsername, password: registryPassword,
			svcRepo: svcRepo, migRepo: migRepo},
		Committer: &release.GitCommitter{Config: cfg},
		Artifacts: &release.FluxArtifacts{Repository: artifactRepository, Options: []artifact.Option{
			artifact.WithKeychain(image.Keychain(image.Credentials{Username: registryUsername, Password: pw}, nil)),
			artifact.WithSource(cfg.URL)}},
		ManifestsPath: path,
	}
	if kubeconfig != nil {
		dyn, ns, err := fluxClient(ctx, kubeconfig, fluxNamespace)
		if err != nil {
			return "", err
		}
		if fluxName == "" {
			fluxName = app
		}
		r.Reconciler = &release.FluxReconciler{Dynamic: dyn, Targets: cluster.FluxTargets(ns, fluxName, ""), Timeout: 5 * time.Minute}
	}
	res, err := r.Run(ctx, t, dryRun)
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b), err
}

// daggerImages publishes with Dagger containers (Dockerfile builds) instead of the
// Go builder: it implements release.ImagePublisher.
type daggerImages struct {
	m                   *Tandem
	source              *dagger.Directory
	registry, app, user string
	password            *dagger.Secret
	svcRepo, migRepo    string
}

var _ release.ImagePublisher = (*daggerImages)(nil)

func (d *daggerImages) PublishImages(ctx context.Context, t string) (image.Result, error) {
	start := time.Now()
	p, err := d.m.Publish(ctx, d.source, d.registry, d.app, t, "", "", d.user, d.password, "", "")
	if err != nil {
		return image.Result{}, err
	}
	res := image.Result{Tag: t, Service: pushed(p.Service), Migration: pushed(p.Migration), Duration: time.Since(start)}
	return res, nil
}

func (d *daggerImages) Describe(t string) string {
	return fmt.Sprintf("docker build Dockerfile (and Dockerfile.migration unless derivable); push %s:%s and %s:%s", d.svcRepo, t, d.migRepo, t)
}

// pushed splits repository:tag@sha256:… as Dagger's Publish returns it.
func pushed(ref string) image.Pushed {
	r, digest, _ := strings.Cut(ref, "@")
	return image.Pushed{Ref: r, Digest: digest}
}
