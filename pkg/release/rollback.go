package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// ErrRollbackRefused marks a rollback stopped before anything was written: no target,
// a target that is gone, or one that cannot run on the live schema. The way out is
// forward: a new release.
var ErrRollbackRefused = errors.New("rollback refused")

// RollbackResult is what a rollback found: the live release, the target and its images.
type RollbackResult struct {
	Live         string `json:"live"`
	Target       string `json:"target"`
	TargetCommit string `json:"targetCommit,omitempty"` // the commit that released it; empty: older than the history read
	// Service and Migration are the target's images by digest: the new tag names them.
	Service   string `json:"service"`
	Migration string `json:"migration"`
	// Releases is the branch's history read to find the live release and the target.
	Releases []gitops.Release `json:"releases"`
}

// Rollback is a rollback's proof step, run before anything is written: it reads the
// branch's releases (gitops.History), picks the target (Plan.RollbackTo, else the release
// before the live one), finds its images, and proves them on the live schema — the
// pre-flight in reverse (preflight.Config.Rollback): the live release's migration
// replayed on a throwaway database, the target's migration run on it (the rollback's Job
// runs it: it must leave the schema as it is), the target's service started on it and
// the compat check. The manifests are the branch head's: the rollback ships them with
// the target's images under the plan's new tag.
type Rollback struct {
	Plan     Plan
	Registry Registry
	// Options carries what the manifests cannot say (database, compat check, env),
	// as for a release's pre-flight.
	Options preflight.Config
	// Depth is how many commits of the branch are read for its releases
	// (default gitops.DefaultHistoryDepth).
	Depth int

	found *RollbackResult
	proof preflight.Config
	// committer, when wired, gets the commit message naming the target.
	committer *GitCommitter
}

var (
	_ Validator   = (*Rollback)(nil)
	_ Preflighter = (*Rollback)(nil)
)

// Describe says what the proof does.
func (rb *Rollback) Describe(newTag string) string {
	target := "the release before the live one"
	if rb.found != nil {
		target = rb.found.Target
	} else if rb.Plan.RollbackTo != "" {
		target = rb.Plan.RollbackTo
	}
	return fmt.Sprintf("read %s's releases; prove %s on the live schema (live migration, then %s's migration and service on a throwaway database); refuse unless it passes", rb.Plan.Branch, target, target)
}

// Found is what Validate found; nil before.
func (rb *Rollback) Found() *RollbackResult { return rb.found }

// Validate finds the live release and the target, checks the target's images exist and
// builds the proof, writing nothing.
func (rb *Rollback) Validate(ctx context.Context, newTag string) error {
	p := rb.Plan
	dir, err := os.MkdirTemp("", "tandem-rollback-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := p.Commit()
	cfg.Dir = filepath.Join(dir, "clone")
	h, err := gitops.History(ctx, cfg, rb.Depth)
	if err != nil {
		return err
	}
	found := &RollbackResult{Live: h.Releases[0].Tag, Releases: h.Releases}
	switch {
	case p.RollbackTo != "":
		found.Target = p.RollbackTo
	case len(h.Releases) > 1:
		found.Target = h.Releases[1].Tag
	default:
		return fmt.Errorf("%w: the last %d commits of %s hold one release (%s, live): nothing to roll back to; give the target (an older tag still in the registry)", ErrRollbackRefused, h.Commits, p.Branch, found.Live)
	}
	for _, r := range h.Releases[1:] {
		if r.Tag == found.Target {
			found.TargetCommit = r.Commit
			break
		}
	}
	if found.Target == found.Live {
		return fmt.Errorf("%w: %s is the live release already", ErrRollbackRefused, found.Target)
	}
	// The rollback is a release: its tag must come after the live one, or the branch's
	// guard refuses it and Flux's semver range never picks it.
	if c, err := tag.Compare(found.Live, newTag); err == nil && c >= 0 {
		return fmt.Errorf("%w: the new tag %s is not newer than the live %s: run the rollback from a new pipeline (its ID makes the tag) or give a newer tag", ErrRollbackRefused, newTag, found.Live)
	}
	imgs, err := image.Find(ctx, p.ServiceRepository, p.MigrationRepository, found.Target, rb.Registry.publishOptions()...)
	if err != nil {
		return fmt.Errorf("%w: the target %s: %w", ErrRollbackRefused, found.Target, err)
	}
	found.Service, found.Migration = imgs.Service.Ref+"@"+imgs.Service.Digest, imgs.Migration.Ref+"@"+imgs.Migration.Digest

	manifests := filepath.Join(cfg.Dir, filepath.FromSlash(p.ManifestsPath))
	proof := rb.Options
	proof.Rollback, proof.Tag, proof.PreviousTag = true, found.Target, found.Live
	if proof.Runner == nil && proof.Keychain == nil {
		proof.Keychain, proof.NameOptions = rb.Registry.keychain(), append(proof.NameOptions, rb.Registry.nameOptions()...)
	}
	proof.Redact = append(proof.Redact, p.RegistryPassword(), p.GitToken())
	if err := preflight.CheckCompat(proof.CompatCheck); err != nil {
		return err
	}
	if proof.PreviousMigration, _, err = containers(ctx, manifests, p, found.Live, "live release"); err != nil {
		return fmt.Errorf("%s of %s: %w", p.ManifestsPath, p.Branch, gitops.InRepository(err, cfg.Dir))
	}
	if proof.Migration, proof.PreviousService, err = containers(ctx, manifests, p, found.Target, "rollback target"); err != nil {
		return fmt.Errorf("%s of %s: %w", p.ManifestsPath, p.Branch, gitops.InRepository(err, cfg.Dir))
	}
	rb.found, rb.proof = found, proof
	if rb.committer != nil {
		rb.committer.Config.Message = rollbackMessage(found)
	}
	return nil
}

// Preflight runs the proof Validate built.
func (rb *Rollback) Preflight(ctx context.Context, newTag string) (preflight.Result, error) {
	if rb.found == nil {
		if err := rb.Validate(ctx, newTag); err != nil {
			return preflight.Result{Tag: newTag}, err
		}
	}
	res, err := preflight.Run(ctx, rb.proof)
	if err != nil {
		return res, fmt.Errorf("%w: %s cannot run on the live schema of %s: %w; nothing was tagged, committed or pushed: the way out is forward (fix and release a new version)", ErrRollbackRefused, rb.found.Target, rb.found.Live, err)
	}
	return res, nil
}

// rollbackMessage is the commit message of a rollback: GitLab skips [skip ci] commits.
func rollbackMessage(f *RollbackResult) string {
	// A template over .App .Tag .Old; the target and digests hold no braces.
	return fmt.Sprintf("ci: roll {{.App}} back to %s as {{.Tag}} [skip ci]\n\n{{.Old}} is rolled back by tandem rollback: {{.Tag}} runs %s's images.\nservice:   %s\nmigration: %s\n",
		f.Target, f.Target, f.Service, f.Migration)
}

// RollbackImages is a rollback's images step: the target's images, tagged with the new
// tag in the registry (image.Retag), nothing built or uploaded.
type RollbackImages struct {
	Rollback *Rollback
	Options  []image.PublishOption
}

var _ ImagePublisher = (*RollbackImages)(nil)

// PublishImages implements ImagePublisher.
func (ri *RollbackImages) PublishImages(ctx context.Context, newTag string) (image.Result, error) {
	f := ri.Rollback.found
	if f == nil {
		return image.Result{}, errors.New("rollback images: the rollback was not validated")
	}
	p := ri.Rollback.Plan
	return image.Retag(ctx, p.ServiceRepository, p.MigrationRepository, f.Target, newTag, ri.Options...)
}

// Describe says what PublishImages would do.
func (ri *RollbackImages) Describe(newTag string) string {
	p, target := ri.Rollback.Plan, "the target"
	if f := ri.Rollback.found; f != nil {
		target = f.Target
	}
	return fmt.Sprintf("tag %s's images %s and %s as %s in the registry (no build, no upload)", target, p.ServiceRepository, p.MigrationRepository, newTag)
}
