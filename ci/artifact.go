package main

import (
	"context"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/release"
	tagpkg "github.com/tandem-ci/tandem/pkg/tag"
)

// PushArtifact pushes the manifests folder as a Flux OCI artifact to
// oci://<repository>:<tag> with Flux's media types and source/revision annotations.
// Returns the artifact digest.
// +cache="never"
func (m *Tandem) PushArtifact(
	ctx context.Context,
	// Project source
	// +defaultPath="/"
	source *dagger.Directory,
	// Artifact repository, e.g. registry.gitlab.com/acme/shop/manifests
	repository string,
	// The release tag
	tag string,
	// Manifests folder, relative to source
	// +optional
	// +default="k8s"
	path string,
	// Registry user
	// +optional
	username string,
	// Registry password or token
	// +optional
	password *dagger.Secret,
	// Revision annotation, e.g. main@sha1:<commit>
	// +optional
	revision string,
	// Source annotation, e.g. the project URL
	// +optional
	sourceUrl string,
	// Extra tags, e.g. latest
	// +optional
	extraTags []string,
) (string, error) {
	dir, err := exportDir(ctx, source.Directory(path))
	if err != nil {
		return "", err
	}
	pw, err := plaintext(ctx, password)
	if err != nil {
		return "", err
	}
	// The same step as the release's: the artifact runs tag, and an empty build is refused.
	p, err := release.ResolveSteps(release.Config{ArtifactRepository: repository, Tag: tagpkg.Config{Explicit: tag}, ManifestsPath: dir,
		SourceURL: sourceUrl, ExtraTags: extraTags, RegistryUsername: username, RegistryPassword: pw}, release.StepArtifact)
	if err != nil {
		return "", release.ForDoor(err, doors.Fields)
	}
	r, err := release.Build(ctx, p, release.Setup{Registry: p.Registry(false), Revision: revision})
	if err != nil {
		return "", err
	}
	res, err := r.Run(ctx)
	if res.Artifact == nil {
		return "", err
	}
	return res.Artifact.Digest, err
}
