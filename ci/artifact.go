package main

import (
	"context"

	"dagger/tandem/doors"

	"github.com/tandem-ci/tandem/pkg/release"
)

// PushArtifact pushes the manifests folder as a Flux OCI artifact to
// oci://<artifact repository>:<tag> with Flux's media types and source/revision
// annotations. Returns the artifact digest.
// +cache="never"
func (m *Tandem) PushArtifact(
	ctx context.Context,
	// Artifact tag
	tag string,
	// Revision annotation, e.g. main@sha1:<commit>
	// +optional
	revision string,
	// Source annotation (default: the repository URL)
	// +optional
	sourceUrl string,
	// Further tags of the artifact, e.g. latest
	// +optional
	extraTags []string,
) (string, error) {
	dir, err := exportDir(ctx, m.Source.Directory(m.Path))
	if err != nil {
		return "", err
	}
	a := m.args()
	a.Tag, a.Path = tag, dir
	_, pw, err := m.secrets(ctx)
	if err != nil {
		return "", err
	}
	cfg := a.Config("", pw)
	cfg.SourceURL, cfg.ExtraTags = firstOf(sourceUrl, m.RepoUrl), extraTags
	p, err := release.ResolveSteps(cfg, release.StepArtifact)
	if err != nil {
		return "", release.ForDoor(err, doors.Fields)
	}
	reg, err := m.viaRegistryService(ctx, p, p.Registry(false))
	if err != nil {
		return "", err
	}
	r, err := release.Build(ctx, p, release.Setup{Registry: reg, Revision: revision})
	if err != nil {
		return "", err
	}
	res, err := r.Run(ctx)
	if res.Artifact == nil {
		return "", err
	}
	return res.Artifact.Digest, err
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
