// Tandem ships a database-backed service and its schema migration in tandem to
// Kubernetes with Flux: two images with one tag, IMAGE_TAG committed back with
// [skip ci], the manifests pushed as a Flux OCI artifact, and Flux asked to reconcile.
//
// Every function is a thin wrapper over tandem's Go library (github.com/tandem-ci/tandem/pkg/...):
// the same code runs in `tandem release` on a laptop and in GitLab CI.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"dagger/tandem/doors"
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
