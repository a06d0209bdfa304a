package main

import (
	"context"
	"errors"

	"dagger/tandem/internal/dagger"

	"github.com/tandem-ci/tandem/pkg/gitops"
)

// Commit clones branch, sets IMAGE_TAG, commits "… [skip ci]" and pushes, retrying on
// concurrent pushes and never moving the tag backwards. Returns the commit SHA.
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
	// App name for the commit message
	// +optional
	app string,
	// Git user for the token
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
) (string, error) {
	cfg, err := commitConfig(ctx, repoUrl, branch, token, app, username, file, pushOptionCiSkip)
	if err != nil {
		return "", err
	}
	cfg.Tag = tag
	res, err := gitops.Bump(ctx, cfg)
	if errors.Is(err, gitops.ErrNothingToCommit) {
		return res.Commit, nil
	}
	return res.Commit, err
}

func commitConfig(ctx context.Context, repoURL, branch string, token *dagger.Secret, app, username, file string, ciSkip bool) (gitops.Config, error) {
	pw, err := plaintext(ctx, token)
	if err != nil {
		return gitops.Config{}, err
	}
	return gitops.Config{URL: repoURL, Branch: branch, Username: username, Password: pw, App: app, File: file, SkipCIPush: ciSkip}, nil
}
