package main

import (
	"context"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/release"
)

// Rollback goes back to an older release (to; default the release before the live one,
// from the branch's history of IMAGE_TAG commits) by rolling forward to its images.
// Nothing is written until the target is proved on the live schema, in containers: the
// live release's migration replayed on a throwaway PostgreSQL service, the target's
// migration run on it (it must leave the schema as it is), the target's service started
// on it and the compat check. Then a new tag names the target's digests in the registry
// (nothing built), the commit names the target, the artifact is pushed and, with a
// kubeconfig, Flux reconciles: pkg/release's rollback, as `tandem rollback`.
// +cache="never"
func (m *Tandem) Rollback(
	ctx context.Context,
	// Project source: its manifests folder is the branch's
	// +defaultPath="/"
	source *dagger.Directory,
	// App name
	app string,
	// The project's registry path ($CI_REGISTRY_IMAGE)
	registry string,
	// Repository to commit IMAGE_TAG to
	repoUrl string,
	// Branch to roll back
	branch string,
	// Token with write access to the repository (project or deploy token)
	gitToken *dagger.Secret,
	// Release to go back to (default: the release before the live one)
	// +optional
	to string,
	// Git user for the token (deploy tokens need theirs)
	// +optional
	gitUsername string,
	// The rollback's tag; default computed from pipelineId and jobId
	// +optional
	tag string,
	// GitLab CI_PIPELINE_ID
	// +optional
	pipelineId string,
	// GitLab CI_JOB_ID
	// +optional
	jobId string,
	// Tag format over .PipelineID .JobID .ShortSHA .CommitSHA .Branch: newer than the live release's
	// +optional
	// +default="v1.{{.PipelineID}}.{{.JobID}}"
	tagFormat string,
	// Registry user
	// +optional
	registryUsername string,
	// Registry password or token
	// +optional
	registryPassword *dagger.Secret,
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
	// Find the target and run the proof only: tag, commit and push nothing
	// +optional
	dryRun bool,
	// The proof's check of the target's service on the live schema: an HTTP path or a shell command
	// +optional
	compatCheck string,
	// The branch released on purpose (e.g. $CI_DEFAULT_BRANCH)
	// +optional
	releaseBranch string,
) (*ReleaseResult, error) {
	a := doors.ReleaseArgs{App: app, Registry: registry, RepoUrl: repoUrl, Branch: branch, Tag: tag, PipelineId: pipelineId, JobId: jobId,
		TagFormat: tagFormat, RegistryUsername: registryUsername, Path: path, File: file, GitUsername: gitUsername, AuthorName: authorName,
		AuthorEmail: authorEmail, FluxNamespace: fluxNamespace, FluxName: fluxName, ReleaseBranch: releaseBranch, To: to}
	token, err := plaintext(ctx, gitToken)
	if err != nil {
		return nil, err
	}
	pw, err := plaintext(ctx, registryPassword)
	if err != nil {
		return nil, err
	}
	cfg := a.Config(token, pw)
	cfg.Rollback = true
	p, err := release.Resolve(cfg)
	if err != nil {
		return nil, release.ForDoor(err, doors.Fields)
	}
	s := release.Setup{Registry: p.Registry(false)}
	if s.Checkout, s.Preflight, err = m.preflightSetup(ctx, source, p, compatCheck, "", "", registryPassword); err != nil {
		return nil, err
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
		res, err := r.Rehearse(ctx)
		return releaseResult(res, true), err
	}
	res, err := r.Run(ctx)
	return releaseResult(res, false), err
}
