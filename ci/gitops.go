package main

import (
	"context"
	"errors"

	"dagger/tandem/doors"
	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/release"
)

// Commit clones branch, sets IMAGE_TAG, commits "… [skip ci]" and pushes, retrying on
// concurrent pushes and never moving the tag backwards. Returns the commit SHA.
// +cache="never"
func (m *Tandem) Commit(
	ctx context.Context,
	// Repository URL, e.g. https://gitlab.com/acme/shop.git
	repoUrl string,
	// Branch to commit to
	branch string,
	// Token with write access (project or deploy token)
	token *dagger.Secret,
	// The release tag
	tag string,
	// App name for the commit message (default: the repository's name)
	// +optional
	app string,
	// Git user for the token (deploy tokens need theirs)
	// +optional
	// +default="tandem"
	username string,
	// File holding IMAGE_TAG, relative to the repository
	// +optional
	// +default="k8s/deployment-variables.yaml"
	file string,
	// Also send the push option ci.skip
	// +optional
	pushOptionCiSkip bool,
	// Commit author name (e.g. $GITLAB_USER_NAME)
	// +optional
	authorName string,
	// Commit author email (e.g. $GITLAB_USER_EMAIL)
	// +optional
	authorEmail string,
) (string, error) {
	pw, err := plaintext(ctx, token)
	if err != nil {
		return "", err
	}
	cfg := doors.ReleaseArgs{RepoUrl: repoUrl, Branch: branch, Tag: tag, App: app, GitUsername: username, File: file,
		AuthorName: authorName, AuthorEmail: authorEmail}.Config(pw, "")
	cfg.PushOptionCISkip = pushOptionCiSkip
	p, err := release.ResolveSteps(cfg, release.StepCommit)
	if err != nil {
		return "", release.ForDoor(err, doors.Fields)
	}
	res, err := gitops.Bump(ctx, p.Commit())
	if errors.Is(err, gitops.ErrNothingToCommit) {
		return res.Commit, nil
	}
	return res.Commit, err
}
