package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/release"
)

// viaRegistryService sends the module's registry traffic for the plan's registry host to
// the constructor's registryService, when one is given (a laptop's local registry the
// engine's containers cannot reach by name).
func (m *Tandem) viaRegistryService(ctx context.Context, p release.Plan, reg release.Registry) (release.Registry, error) {
	if m.RegistryService == nil {
		return reg, nil
	}
	endpoint, err := startService(ctx, m.RegistryService, "registryService")
	if err != nil {
		return reg, err
	}
	host := doors.RegistryHost(p.ServiceRepository)
	if host == "" {
		host = doors.RegistryHost(p.ArtifactRepository)
	}
	reg.Transport = image.Redirect(host, endpoint, nil)
	return reg, nil
}

// viaGitService sends the module's git traffic to the constructor's gitService, when one
// is given; the artifact's source annotation keeps the repository URL.
func (m *Tandem) viaGitService(ctx context.Context, p release.Plan) (release.Plan, error) {
	if m.GitService == nil || p.RepoURL == "" {
		return p, nil
	}
	endpoint, err := startService(ctx, m.GitService, "gitService")
	if err != nil {
		return p, err
	}
	p.RepoURL, err = doors.ViaEndpoint(p.RepoURL, endpoint)
	return p, err
}

func startService(ctx context.Context, svc *dagger.Service, arg string) (string, error) {
	if _, err := svc.Start(ctx); err != nil {
		return "", engineError(fmt.Errorf("starting %s: %w", arg, err))
	}
	endpoint, err := svc.Endpoint(ctx)
	if err != nil {
		return "", fmt.Errorf("%s's endpoint: %w", arg, err)
	}
	return endpoint, nil
}

// pushThroughFunction pushes c to ref with the module's own registry client (through
// registryService): the engine's push resolves names with its own DNS, which knows no
// service. The image leaves the engine as an OCI tarball.
func (m *Tandem) pushThroughFunction(ctx context.Context, c *dagger.Container, ref string, reg release.Registry) (string, error) {
	dir, err := os.MkdirTemp("", "tandem-push-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "image.tar")
	if _, err := c.AsTarball().Export(ctx, path); err != nil {
		return "", engineError(fmt.Errorf("exporting %s: %w", ref, err))
	}
	img, cleanup, err := image.FromArchive(path)
	defer cleanup()
	if err != nil {
		return "", err
	}
	opts := []image.PublishOption{image.WithKeychain(reg.Keychain), image.WithTransport(reg.Transport)}
	pushed, err := image.Push(ctx, img, ref, opts...)
	if err != nil {
		return "", err
	}
	return pushed.Ref + "@" + pushed.Digest, nil
}

// importThroughFunction pulls ref with the module's registry client (through
// registryService) into the function's working directory and imports it into the engine.
func (m *Tandem) importThroughFunction(ctx context.Context, ref string, reg release.Registry) (*dagger.Container, error) {
	name := fmt.Sprintf("tandem-pull-%d.tar", os.Getpid())
	if err := image.Save(ctx, ref, name, image.WithKeychain(reg.Keychain), image.WithTransport(reg.Transport)); err != nil {
		return nil, err
	}
	return dag.Container().Import(dag.CurrentModule().WorkdirFile(name)), nil
}
