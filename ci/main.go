// Tandem ships a database-backed service and its schema migration in tandem to
// Kubernetes with Flux: two images with one tag, IMAGE_TAG committed back with
// [skip ci], the manifests pushed as a Flux OCI artifact, and Flux asked to reconcile.
//
// Every function is a thin wrapper over tandem's Go library (github.com/tandem-ci/tandem/pkg/...):
// the same code runs in `tandem release` on a laptop and in GitLab CI. The constructor
// holds what every function shares (the source, the registry and git access, the
// manifests folder); With… methods set the rest.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"
)

// Tandem is the module: what every function shares.
type Tandem struct {
	// +private
	Source *dagger.Directory
	// +private
	App string
	// +private
	Registry string
	// +private
	RegistryUsername string
	// +private
	RegistryPassword *dagger.Secret
	// +private
	RegistryService *dagger.Service
	// +private
	RepoUrl string
	// +private
	Branch string
	// +private
	GitUsername string
	// +private
	GitToken *dagger.Secret
	// +private
	GitService *dagger.Service
	// +private
	Path string
	// +private
	File string
	// +private
	Kubeconfig *dagger.Secret

	// Set by With… methods.
	// +private
	ServiceRepository string
	// +private
	MigrationRepository string
	// +private
	ArtifactRepository string
	// +private
	AuthorName string
	// +private
	AuthorEmail string
	// +private
	FluxNamespace string
	// +private
	FluxName string
	// +private
	FluxKustomization string
	// +private
	TagFormat string
	// +private
	RollbackTagFormat string
	// +private
	ReleaseBranch string
	// +private
	Migrations string
	// +private
	MigrationsSince string
	// +private
	MigrationsFormat string
}

// New holds what every function shares: the project, where its images and manifests go,
// the repository IMAGE_TAG is committed to, and the cluster Flux runs in.
func New(
	// Project source: its Dockerfiles, its manifests folder
	// +defaultPath="/"
	source *dagger.Directory,
	// App name: <registry>/<app> and <registry>/<app>-migration images, the <app>-migration-<tag> Job (default: the repository's name)
	// +optional
	app string,
	// The project's registry path ($CI_REGISTRY_IMAGE): images go to <registry>/<app> and <registry>/<app>-migration, the artifact to <registry>/<app>/manifests
	// +optional
	registry string,
	// Registry user
	// +optional
	registryUsername string,
	// Registry password or token
	// +optional
	registryPassword *dagger.Secret,
	// The registry as a service (e.g. tcp://localhost:5000 from the CLI): the module's traffic to the registry's host goes to it, so a laptop's local registry works
	// +optional
	registryService *dagger.Service,
	// Repository IMAGE_TAG is committed to
	// +optional
	repoUrl string,
	// Branch IMAGE_TAG is committed to
	// +optional
	branch string,
	// Git user for the token (deploy tokens need theirs)
	// +optional
	gitUsername string,
	// Token with write access to the repository (project or deploy token)
	// +optional
	gitToken *dagger.Secret,
	// The git server as a service (e.g. tcp://localhost:3000): the module's git traffic goes to it
	// +optional
	gitService *dagger.Service,
	// Manifests folder in the repository
	// +optional
	// +default="k8s"
	path string,
	// File holding IMAGE_TAG in the repository (default <path>/deployment-variables.yaml)
	// +optional
	file string,
	// Kubeconfig of the cluster Flux runs in: when given, releases ask Flux to reconcile
	// +optional
	kubeconfig *dagger.Secret,
) *Tandem {
	return &Tandem{Source: source, App: app, Registry: registry, RegistryUsername: registryUsername, RegistryPassword: registryPassword,
		RegistryService: registryService, RepoUrl: repoUrl, Branch: branch, GitUsername: gitUsername, GitToken: gitToken,
		GitService: gitService, Path: path, File: file, Kubeconfig: kubeconfig}
}

// WithRepositories overrides the repositories derived from registry and app.
func (m *Tandem) WithRepositories(
	// Service repository (default <registry>/<app>)
	// +optional
	serviceRepository string,
	// Migration repository (default <service repository>-migration)
	// +optional
	migrationRepository string,
	// Artifact repository (default <service repository>/manifests)
	// +optional
	artifactRepository string,
) *Tandem {
	c := *m
	c.ServiceRepository, c.MigrationRepository, c.ArtifactRepository = serviceRepository, migrationRepository, artifactRepository
	return &c
}

// WithAuthor sets the author of the IMAGE_TAG commits (default tandem).
func (m *Tandem) WithAuthor(
	// Commit author name (e.g. $GITLAB_USER_NAME)
	// +optional
	authorName string,
	// Commit author email (e.g. $GITLAB_USER_EMAIL)
	// +optional
	authorEmail string,
) *Tandem {
	c := *m
	c.AuthorName, c.AuthorEmail = authorName, authorEmail
	return &c
}

// WithFlux names the Flux objects a release reconciles.
func (m *Tandem) WithFlux(
	// Namespace of the Flux objects
	// +optional
	// +default="flux-system"
	fluxNamespace string,
	// OCIRepository name (default: app)
	// +optional
	fluxName string,
	// Kustomization name (default: the OCIRepository's; "-" for none)
	// +optional
	fluxKustomization string,
) *Tandem {
	c := *m
	c.FluxNamespace, c.FluxName, c.FluxKustomization = fluxNamespace, fluxName, fluxKustomization
	return &c
}

// WithTagFormat sets how tags are computed from a pipeline ID.
func (m *Tandem) WithTagFormat(
	// Release tag format over .PipelineID .JobID .ShortSHA .CommitSHA .Branch
	// +optional
	// +default="v1.{{.PipelineID}}.0"
	tagFormat string,
	// Rollback tag format: newer than the live release's
	// +optional
	// +default="v1.{{.PipelineID}}.{{.JobID}}"
	rollbackTagFormat string,
) *Tandem {
	c := *m
	c.TagFormat, c.RollbackTagFormat = tagFormat, rollbackTagFormat
	return &c
}

// WithReleaseBranch names the branch released on purpose (e.g. $CI_DEFAULT_BRANCH): a
// release of another branch is refused, so a feature branch never becomes the newest
// artifact Flux follows.
func (m *Tandem) WithReleaseBranch(
	// The release branch
	releaseBranch string,
) *Tandem {
	c := *m
	c.ReleaseBranch = releaseBranch
	return &c
}

// WithMigrations adds the pre-flight's analyze phase: the new files of this folder run
// statement by statement on the live schema, their locks and rewrites measured and
// checked (pkg/analyze, as `tandem lint --migrations`).
func (m *Tandem) WithMigrations(
	// Migrations folder in the source (SQL files)
	migrations string,
	// Version of the last live file (default: what the migration tool recorded)
	// +optional
	migrationsSince string,
	// goose, golang-migrate, dbmate, flyway, liquibase or sql (default: detected)
	// +optional
	migrationsFormat string,
) *Tandem {
	c := *m
	c.Migrations, c.MigrationsSince, c.MigrationsFormat = migrations, migrationsSince, migrationsFormat
	return &c
}

// args are the module's state as the door's arguments.
func (m *Tandem) args() doors.ReleaseArgs {
	return doors.ReleaseArgs{App: m.App, Registry: m.Registry, RepoUrl: m.RepoUrl, Branch: m.Branch, TagFormat: m.TagFormat,
		RegistryUsername: m.RegistryUsername, ServiceRepository: m.ServiceRepository, MigrationRepository: m.MigrationRepository,
		ArtifactRepository: m.ArtifactRepository, Path: m.Path, File: m.File, GitUsername: m.GitUsername, AuthorName: m.AuthorName,
		AuthorEmail: m.AuthorEmail, FluxNamespace: m.FluxNamespace, FluxName: m.FluxName, FluxKustomization: m.FluxKustomization,
		ReleaseBranch: m.ReleaseBranch}
}

// secrets reads the git token and the registry password.
func (m *Tandem) secrets(ctx context.Context) (gitToken, registryPassword string, err error) {
	if gitToken, err = plaintext(ctx, m.GitToken); err != nil {
		return "", "", err
	}
	registryPassword, err = plaintext(ctx, m.RegistryPassword)
	return gitToken, registryPassword, err
}

// exportDir copies a Directory to this function's filesystem so pkg/ can read it.
func exportDir(ctx context.Context, dir *dagger.Directory) (string, error) {
	p, err := os.MkdirTemp("", "tandem-src-")
	if err != nil {
		return "", err
	}
	if _, err := dir.Export(ctx, p); err != nil {
		return "", fmt.Errorf("exporting source: %w", err)
	}
	return p, nil
}

// plaintext reads an optional secret ("" when nil).
func plaintext(ctx context.Context, s *dagger.Secret) (string, error) {
	if s == nil {
		return "", nil
	}
	return s.Plaintext(ctx)
}

// engineError returns err as plain text the engine shows whole: for a failed container
// exec, the module's wording (the step) and the tail of the program's output
// (doors.ExecFailure). Returned as it is, an exec error reaches the user as "exit code:
// 1" alone. Other errors are returned unchanged.
func engineError(err error) error {
	var ee *dagger.ExecError
	if err == nil || !errors.As(err, &ee) {
		return err
	}
	return errors.New(doors.ExecFailure(err.Error(), ee.Stdout, ee.Stderr))
}
