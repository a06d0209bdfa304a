// Notes releases this example with tandem's Dagger module, as another project's pipeline
// would: `dagger install github.com/tandem-ci/tandem@<version>` (here the repository's
// root, ../..), then tandem's functions through the generated bindings.
package main

import (
	"context"

	"dagger/notes/internal/dagger"
)

// Notes is the example service's module.
type Notes struct{}

// Release ships the notes service: both images from its Dockerfiles, IMAGE_TAG committed
// to the branch, k8s/ pushed as the Flux artifact. Returns the artifact's digest.
// +cache="never"
func (m *Notes) Release(
	ctx context.Context,
	// The example's folder
	// +defaultPath="/examples/go-postgres"
	source *dagger.Directory,
	// The project's registry path ($CI_REGISTRY_IMAGE)
	registry string,
	// Repository IMAGE_TAG is committed to
	repoUrl string,
	// Token with write access to the repository
	gitToken *dagger.Secret,
	// Release tag
	tag string,
	// Branch to release
	// +optional
	// +default="main"
	branch string,
	// Registry user
	// +optional
	registryUsername string,
	// Registry password or token
	// +optional
	registryPassword *dagger.Secret,
) (string, error) {
	return dag.Tandem(dagger.TandemOpts{
		Source: source, App: "notes", Registry: registry,
		RegistryUsername: registryUsername, RegistryPassword: registryPassword,
		RepoURL: repoUrl, Branch: branch, GitToken: gitToken,
		Path: "examples/go-postgres/k8s",
	}).
		WithAuthor(dagger.TandemWithAuthorOpts{AuthorName: "notes CI"}).
		Release(dagger.TandemReleaseOpts{Tag: tag, Preflight: true, CompatCheck: "/notes"}).
		ArtifactDigest(ctx)
}

// Lint checks the example's manifests with tandem's rules.
func (m *Notes) Lint(
	ctx context.Context,
	// The example's folder
	// +defaultPath="/examples/go-postgres"
	source *dagger.Directory,
) (string, error) {
	return dag.Tandem(dagger.TandemOpts{Source: source}).Lint(ctx)
}
