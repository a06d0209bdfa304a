package main

import (
	"context"
	"errors"
	"fmt"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/image"
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
	// Release tag; default computed from pipelineId or commitSha
	// +optional
	tag string,
	// GitLab CI_PIPELINE_ID, for the tag v1.<id>.0
	// +optional
	pipelineId string,
	// Commit SHA, the tag fallback
	// +optional
	commitSha string,
) (*Published, error) {
	a := m.args()
	a.Tag, a.PipelineId, a.CommitSha = tag, pipelineId, commitSha
	p, err := release.ResolveSteps(a.Config("", ""), release.StepImages)
	if err != nil {
		return nil, release.ForDoor(err, doors.Fields)
	}
	return m.publish(ctx, p.ServiceRepository, p.MigrationRepository, p.Tag)
}

// publish builds and pushes both images to full repositories: by the engine, or through
// the function when the registry is a service.
func (m *Tandem) publish(ctx context.Context, svcRepo, migRepo, t string) (*Published, error) {
	if svcRepo == "" || migRepo == "" {
		return nil, errors.New("publish: service and migration repositories required")
	}
	imgs, err := m.Build(ctx, "Dockerfile", "Dockerfile.migration")
	if err != nil {
		return nil, err
	}
	var reg release.Registry
	if m.RegistryService != nil {
		pw, err := plaintext(ctx, m.RegistryPassword)
		if err != nil {
			return nil, err
		}
		plan := release.Plan{ServiceRepository: svcRepo, RegistryUsername: m.RegistryUsername}
		if reg, err = m.viaRegistryService(ctx, plan, release.Registry{Keychain: image.Keychain(image.Credentials{Username: m.RegistryUsername, Password: pw}, nil)}); err != nil {
			return nil, err
		}
	}
	out := &Published{Tag: t}
	for _, p := range []struct {
		c    *dagger.Container
		repo string
		ref  *string
	}{{imgs.Service, svcRepo, &out.Service}, {imgs.Migration, migRepo, &out.Migration}} {
		if m.RegistryService != nil {
			if *p.ref, err = m.pushThroughFunction(ctx, p.c, p.repo+":"+t, reg); err != nil {
				return nil, fmt.Errorf("publishing %s:%s: %w", p.repo, t, err)
			}
			continue
		}
		c := p.c
		if m.RegistryPassword != nil {
			c = c.WithRegistryAuth(doors.RegistryHost(p.repo), m.RegistryUsername, m.RegistryPassword)
		}
		if *p.ref, err = c.Publish(ctx, p.repo+":"+t); err != nil {
			return nil, engineError(fmt.Errorf("publishing %s:%s: %w", p.repo, t, err))
		}
	}
	return out, nil
}
