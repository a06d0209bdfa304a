package main

import (
	"context"
	"errors"

	"dagger/tandem/doors"

	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/release"
)

// Commit clones branch, sets IMAGE_TAG, commits "… [skip ci]" and pushes, retrying on
// concurrent pushes and never moving the tag backwards. Returns the commit SHA.
// +cache="never"
func (m *Tandem) Commit(
	ctx context.Context,
	// Tag to set
	tag string,
	// Also send the git push option ci.skip
	// +optional
	pushOptionCiSkip bool,
) (string, error) {
	token, _, err := m.secrets(ctx)
	if err != nil {
		return "", err
	}
	a := m.args()
	a.Tag = tag
	cfg := a.Config(token, "")
	cfg.PushOptionCISkip = pushOptionCiSkip
	p, err := release.ResolveSteps(cfg, release.StepCommit)
	if err != nil {
		return "", release.ForDoor(err, doors.Fields)
	}
	if p, err = m.viaGitService(ctx, p); err != nil {
		return "", err
	}
	res, err := gitops.Bump(ctx, p.Commit())
	if errors.Is(err, gitops.ErrNothingToCommit) {
		return res.Commit, nil
	}
	return res.Commit, err
}
