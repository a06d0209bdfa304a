package main

import (
	"context"
	"fmt"

	"dagger/tandem/internal/dagger"

	dockerfiles "github.com/tandem-ci/tandem/pkg/dockerfile"
)

// Images are the service and migration containers of one build.
type Images struct {
	// The service image
	Service *dagger.Container
	// The migration image (the service build with another command, or its own build)
	Migration *dagger.Container
	// Why the migration image was derived or built separately
	Plan string
}

// Build builds the service image from the Dockerfile and the migration image from
// Dockerfile.migration. When Dockerfile.migration is absent or differs only in
// CMD/ENTRYPOINT, the migration image is derived from the service build: one build.
func (m *Tandem) Build(
	ctx context.Context,
	// Service Dockerfile, relative to the source
	// +optional
	// +default="Dockerfile"
	dockerfile string,
	// Migration Dockerfile, relative to the source
	// +optional
	// +default="Dockerfile.migration"
	migrationDockerfile string,
) (*Images, error) {
	source := m.Source
	svcFile, err := source.File(dockerfile).Contents(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dockerfile, err)
	}
	var migFile []byte
	if ok, err := source.Exists(ctx, migrationDockerfile); err != nil {
		return nil, err
	} else if ok {
		c, err := source.File(migrationDockerfile).Contents(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", migrationDockerfile, err)
		}
		migFile = []byte(c)
	}
	plan, err := dockerfiles.PlanMigration([]byte(svcFile), migFile)
	if err != nil {
		return nil, err
	}
	svc := source.DockerBuild(dagger.DirectoryDockerBuildOpts{Dockerfile: dockerfile})
	if !plan.Derive {
		mig := source.DockerBuild(dagger.DirectoryDockerBuildOpts{Dockerfile: migrationDockerfile})
		return &Images{Service: svc, Migration: mig, Plan: plan.Reason}, nil
	}
	mig := svc.WithoutEntrypoint().WithoutDefaultArgs()
	if len(plan.Entrypoint) > 0 {
		mig = mig.WithEntrypoint(plan.Entrypoint)
	}
	if len(plan.Cmd) > 0 {
		mig = mig.WithDefaultArgs(plan.Cmd)
	}
	return &Images{Service: svc, Migration: mig, Plan: plan.Reason}, nil
}
