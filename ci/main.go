// Tandem ships a database-backed service and its schema migration in tandem to
// Kubernetes with Flux: two images with one tag, IMAGE_TAG committed back with
// [skip ci], the manifests pushed as a Flux OCI artifact, and Flux asked to reconcile.
//
// Every function is a thin wrapper over tandem's Go library (github.com/tandem-ci/tandem/pkg/...):
// the same code runs in `tandem release` on a laptop and in GitLab CI.
package main

import (
	"context"
	"fmt"
	"os"

	"dagger/tandem/internal/dagger"
)

// Tandem is the module.
type Tandem struct{}

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
