package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/release"
)

// Published are both image references, with digests, of one release.
type Published struct {
	// The release tag
	Tag string
	// Service image, repository:tag@sha256:…
	Service string
	// Migration image, repository:tag@sha256:…
	Migration string
}

// Publish builds both images and pushes them with the same tag to <registry>/<app> and
// <registry>/<app>-migration (the naming rule of every door).
// +cache="never"
func (m *Tandem) Publish(
	ctx context.Context,
	// Project source holding the Dockerfiles
	// +defaultPath="/"
	source *dagger.Directory,
	// The project's registry path, e.g. $CI_REGISTRY_IMAGE
	registry string,
	// App name: the service repository (and <app>-migration)
	app string,
	// Release tag; default computed from pipelineId or commitSha
	// +optional
	tag string,
	// GitLab CI_PIPELINE_ID, for the tag v1.<id>.0
	// +optional
	pipelineId string,
	// Commit SHA, the tag fallback
	// +optional
	commitSha string,
	// Registry user
	// +optional
	username string,
	// Registry password or token
	// +optional
	password *dagger.Secret,
	// Service repository (default <registry>/<app>)
	// +optional
	serviceRepository string,
	// Migration repository (default <service repository>-migration)
	// +optional
	migrationRepository string,
) (*Published, error) {
	a := doors.ReleaseArgs{App: app, Registry: registry, Tag: tag, PipelineId: pipelineId, CommitSha: commitSha,
		ServiceRepository: serviceRepository, MigrationRepository: migrationRepository}
	p, err := release.ResolveSteps(a.Config("", ""), release.StepImages)
	if err != nil {
		return nil, release.ForDoor(err, doors.Fields)
	}
	return m.publish(ctx, source, p.ServiceRepository, p.MigrationRepository, p.Tag, username, password)
}

// publish builds and pushes both images to full repositories.
func (m *Tandem) publish(ctx context.Context, source *dagger.Directory, svcRepo, migRepo, t, username string, password *dagger.Secret) (*Published, error) {
	if svcRepo == "" || migRepo == "" {
		return nil, errors.New("publish: service and migration repositories required")
	}
	imgs, err := m.Build(ctx, source, "Dockerfile", "Dockerfile.migration")
	if err != nil {
		return nil, err
	}
	out := &Published{Tag: t}
	for _, p := range []struct {
		c    *dagger.Container
		repo string
		ref  *string
	}{{imgs.Service, svcRepo, &out.Service}, {imgs.Migration, migRepo, &out.Migration}} {
		c := p.c
		if password != nil {
			c = c.WithRegistryAuth(strings.SplitN(p.repo, "/", 2)[0], username, password)
		}
		if *p.ref, err = c.Publish(ctx, p.repo+":"+t); err != nil {
			return nil, engineError(fmt.Errorf("publishing %s:%s: %w", p.repo, t, err))
		}
	}
	return out, nil
}
