package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"

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
// manifests pushed as a Flux artifact, and optionally a Flux reconcile. Every name comes
// from pkg/release.Resolve, as in `tandem release`.
// +cache="never"
func (m *Tandem) Release(
	ctx context.Context,
	// Project source (its Dockerfiles are built unless prebuilt)
	// +defaultPath="/"
	source *dagger.Directory,
	// App name
	app string,
	// The project's registry path ($CI_REGISTRY_IMAGE): images go to <registry>/<app> and <registry>/<app>-migration, the artifact to <registry>/<app>/manifests
	registry string,
	// Repository to commit IMAGE_TAG to
	repoUrl string,
	// Branch to commit to
	branch string,
	// Token with write access to the repository (project or deploy token)
	gitToken *dagger.Secret,
	// Git user for the token (deploy tokens need theirs)
	// +optional
	gitUsername string,
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
	// Service repository (default <registry>/<app>)
	// +optional
	serviceRepository string,
	// Migration repository (default <service repository>-migration)
	// +optional
	migrationRepository string,
	// Artifact repository (default <service repository>/manifests)
	// +optional
	artifactRepository string,
	// Manifests folder in the repository
	// +optional
	// +default="k8s"
	path string,
	// File holding IMAGE_TAG in the repository (default <path>/deployment-variables.yaml)
	// +optional
	file string,
	// Commit author name (e.g. $GITLAB_USER_NAME)
	// +optional
	authorName string,
	// Commit author email (e.g. $GITLAB_USER_EMAIL)
	// +optional
	authorEmail string,
	// The images were built elsewhere: check both exist instead of building
	// +optional
	prebuilt bool,
	// Kubeconfig: when given, ask Flux to reconcile after the push
	// +optional
	kubeconfig *dagger.Secret,
	// Namespace of the Flux objects
	// +optional
	// +default="flux-system"
	fluxNamespace string,
	// OCIRepository (and Kustomization) name (default: app)
	// +optional
	fluxName string,
	// Validate and return the plan only
	// +optional
	dryRun bool,
	// After the images, prove the migration on a throwaway PostgreSQL service before
	// anything is committed (see preflight)
	// +optional
	preflight bool,
	// The pre-flight's check of the current release's service: an HTTP path or a shell command
	// +optional
	compatCheck string,
	// The branch released on purpose (e.g. $CI_DEFAULT_BRANCH): a release of another branch is refused, so a feature branch never becomes the newest artifact Flux follows
	// +optional
	releaseBranch string,
) (*ReleaseResult, error) {
	a := doors.ReleaseArgs{App: app, Registry: registry, RepoUrl: repoUrl, Branch: branch, Tag: tag, PipelineId: pipelineId, CommitSha: commitSha,
		TagFormat: tagFormat, RegistryUsername: registryUsername, ServiceRepository: serviceRepository, MigrationRepository: migrationRepository,
		ArtifactRepository: artifactRepository, Path: path, File: file, GitUsername: gitUsername, AuthorName: authorName, AuthorEmail: authorEmail,
		FluxNamespace: fluxNamespace, FluxName: fluxName, Prebuilt: prebuilt, ReleaseBranch: releaseBranch}
	token, err := plaintext(ctx, gitToken)
	if err != nil {
		return nil, err
	}
	pw, err := plaintext(ctx, registryPassword)
	if err != nil {
		return nil, err
	}
	p, err := release.Resolve(a.Config(token, pw))
	if err != nil {
		return nil, release.ForDoor(err, doors.Fields)
	}
	s := release.Setup{Registry: p.Registry(false)}
	if !p.Prebuilt {
		s.Images = &daggerImages{m: m, source: source, plan: p, password: registryPassword}
	}
	if preflight {
		if s.Checkout, s.Preflight, err = m.preflightSetup(ctx, source, p, compatCheck, "", "", registryPassword); err != nil {
			return nil, err
		}
	}
	if kubeconfig != nil {
		if s.Dynamic, _, err = fluxClient(ctx, kubeconfig, p.FluxNamespace); err != nil {
			return nil, err
		}
		s.Reconcile = true
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
	m        *Tandem
	source   *dagger.Directory
	plan     release.Plan
	password *dagger.Secret
}

var _ release.ImagePublisher = (*daggerImages)(nil)

func (d *daggerImages) PublishImages(ctx context.Context, t string) (image.Result, error) {
	start := time.Now()
	p, err := d.m.publish(ctx, d.source, d.plan.ServiceRepository, d.plan.MigrationRepository, t, d.plan.RegistryUsername, d.password)
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
