package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// StepPreflight proves the migration on a throwaway database before the commit.
const StepPreflight = "preflight"

// StepStatus is no step of a release: ResolveSteps(cfg, StepStatus) resolves the names a
// look at the live release needs (repositories, branch, Flux objects), without a tag.
const StepStatus = "status"

// Preflighter runs the pre-flight for tag.
type Preflighter interface {
	Preflight(ctx context.Context, tag string) (preflight.Result, error)
}

// Preflight is the standard pre-flight step: the previous release is the IMAGE_TAG of
// the checkout's variables file (the branch before the bump), its migration and service
// come from the checkout's manifests built with that tag, and the new migration from the
// manifests built with the release's tag.
type Preflight struct {
	Plan Plan
	// Checkout is the working copy holding Plan.ManifestsPath and Plan.VariablesFile.
	Checkout string
	// Options carries what the manifests cannot say: DatabaseURL, DatabaseEnv,
	// CompatCheck, Keychain, NameOptions, Timeout, Progress.
	Options preflight.Config

	// validated is Validate's configuration, which Preflight runs for the same tag
	// instead of building the manifests again.
	validated *preflight.Config
}

// Describe says what Preflight would do.
func (s *Preflight) Describe(tag string) string {
	db := "a throwaway PostgreSQL"
	if s.Options.DatabaseURL != "" {
		db = "the given scratch database"
	}
	return fmt.Sprintf("on %s: the branch's current release's migration, then %s twice, then the current release's service against it", db, s.Plan.MigrationRepository+":"+tag)
}

// Config builds the pre-flight's configuration for tag from the checkout.
func (s *Preflight) Config(ctx context.Context, tag string) (preflight.Config, error) {
	p := s.Plan
	dir := filepath.Join(s.Checkout, filepath.FromSlash(p.ManifestsPath))
	cfg := s.Options
	cfg.Tag = tag
	if m := cfg.Migrations; m != nil {
		// The migrations folder is the checkout's: findings name its repository path.
		mc := *m
		if !filepath.IsAbs(mc.Dir) {
			mc.Display = or(mc.Display, filepath.ToSlash(mc.Dir))
			mc.Dir = filepath.Join(s.Checkout, mc.Dir)
		}
		if fi, err := os.Stat(mc.Dir); err != nil || !fi.IsDir() {
			return cfg, fmt.Errorf("the pre-flight's analysis reads the migrations at %s of the checkout (%s): folder not found", or(mc.Display, mc.Dir), s.Checkout)
		}
		cfg.Migrations = &mc
	}
	if err := preflight.CheckCompat(cfg.CompatCheck); err != nil {
		return cfg, err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return cfg, fmt.Errorf("the pre-flight reads the migration and the service from the manifests at %s of the checkout (%s): folder not found; the checkout must have the repository's layout", p.ManifestsPath, s.Checkout)
	}
	var err error
	if cfg.Migration, _, err = containers(ctx, dir, p, tag, "release"); err != nil {
		return cfg, err
	}
	file := filepath.Join(s.Checkout, filepath.FromSlash(p.VariablesFile))
	prev, err := variables.ReadFile(file)
	if err != nil {
		return cfg, fmt.Errorf("the current release: %w", err)
	}
	if prev == "" || prev == tag {
		return cfg, nil
	}
	cfg.PreviousTag = prev
	cfg.PreviousMigration, cfg.PreviousService, err = containers(ctx, dir, p, prev, "current release")
	return cfg, err
}

// containers builds the manifests folder dir with tag and returns the migration Job's
// container and the service Deployment's (empty when the manifests run none); role names
// the tag in errors ("current release").
func containers(ctx context.Context, dir string, p Plan, tag, role string) (migration, service preflight.Container, err error) {
	built, err := manifest.BuildWithTag(ctx, dir, tag)
	if err != nil {
		return migration, service, fmt.Errorf("building %s with the %s %s: %w", dir, role, tag, err)
	}
	if migration, err = preflight.FromManifests(built, "Job", p.MigrationRepository); err != nil {
		return migration, service, fmt.Errorf("%s with %s: %w", dir, tag, err)
	}
	service, err = preflight.FromManifests(built, "Deployment", p.ServiceRepository)
	if errors.Is(err, preflight.ErrNoWorkload) {
		return migration, preflight.Container{}, nil // no service to check: compat is skipped
	}
	return migration, service, err
}

// Validate reads what the pre-flight needs from the checkout, so that a release fails
// before it builds anything when the pre-flight could not run.
func (s *Preflight) Validate(ctx context.Context, tag string) error {
	cfg, err := s.Config(ctx, tag)
	if err == nil {
		s.validated = &cfg
	}
	return err
}

// Preflight runs it.
func (s *Preflight) Preflight(ctx context.Context, tag string) (preflight.Result, error) {
	if v := s.validated; v != nil && v.Tag == tag {
		return preflight.Run(ctx, *v)
	}
	cfg, err := s.Config(ctx, tag)
	if err != nil {
		return preflight.Result{Tag: tag}, err
	}
	return preflight.Run(ctx, cfg)
}
