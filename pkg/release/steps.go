package release

import (
	"context"
	"fmt"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
)

// GoImages builds a Go package once and publishes the service and migration images.
type GoImages struct {
	Dir, Package               string
	ServiceRepo, MigrationRepo string
	BuildOptions               []image.BuildOption
	PublishOptions             []image.PublishOption
}

var _ ImagePublisher = (*GoImages)(nil)

// PublishImages implements ImagePublisher.
func (g *GoImages) PublishImages(ctx context.Context, tag string) (image.Result, error) {
	b, err := image.BuildGo(ctx, g.Dir, g.Package, g.BuildOptions...)
	if err != nil {
		return image.Result{}, err
	}
	return image.Publish(ctx, b, g.ServiceRepo, g.MigrationRepo, tag, g.PublishOptions...)
}

// Describe says what PublishImages would do.
func (g *GoImages) Describe(tag string) string {
	return fmt.Sprintf("build %s in %s once; push %s:%s and %s:%s", g.Package, g.Dir, g.ServiceRepo, tag, g.MigrationRepo, tag)
}

// GitCommitter commits with pkg/gitops.
type GitCommitter struct{ Config gitops.Config }

var _ Committer = (*GitCommitter)(nil)

// Commit implements Committer.
func (g *GitCommitter) Commit(ctx context.Context, tag string) (gitops.Result, error) {
	cfg := g.Config
	cfg.Tag = tag
	return gitops.Bump(ctx, cfg)
}

// Describe says what Commit would do.
func (g *GitCommitter) Describe(tag string) string {
	file := g.Config.File
	if file == "" {
		file = "k8s/deployment-variables.yaml"
	}
	return fmt.Sprintf("set IMAGE_TAG=%s in %s on %s of %s, commit [skip ci], push", tag, file, g.Config.Branch, gitops.StripCredentials(g.Config.URL))
}

// FluxArtifacts pushes with pkg/artifact to <Repository>:<tag>.
type FluxArtifacts struct {
	Repository string // host/path, without oci://
	Options    []artifact.Option
}

var _ ArtifactPusher = (*FluxArtifacts)(nil)

// PushArtifact implements ArtifactPusher.
func (f *FluxArtifacts) PushArtifact(ctx context.Context, dir, tag, revision string) (artifact.Result, error) {
	opts := f.Options
	if revision != "" {
		opts = append(append([]artifact.Option{}, opts...), artifact.WithRevision(revision))
	}
	return artifact.Push(ctx, artifact.URL(f.Repository, tag), dir, opts...)
}

// Describe says what PushArtifact would do.
func (f *FluxArtifacts) Describe(tag string) string {
	return "push the manifests folder to " + artifact.URL(f.Repository, tag)
}
