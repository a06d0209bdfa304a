package gitops

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
)

// ErrDetached is returned by FromCheckout when HEAD is detached and no branch is known.
var ErrDetached = errors.New("HEAD is detached")

// FromCheckout reads the remote URL (without credentials) and branch of a local
// checkout, as GitLab leaves it: possibly shallow and detached, in which case branch
// (e.g. $CI_COMMIT_BRANCH) names the branch.
func FromCheckout(dir, branch string) (remoteURL, br string, err error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", "", fmt.Errorf("opening git checkout %s: %w", dir, err)
	}
	remote, err := repo.Remote("origin")
	if err != nil {
		return "", "", fmt.Errorf("reading remote origin of %s: %w", dir, err)
	}
	remoteURL = StripCredentials(remote.Config().URLs[0])
	if branch != "" {
		return remoteURL, branch, nil
	}
	head, err := repo.Head()
	if err != nil {
		return "", "", fmt.Errorf("reading HEAD of %s: %w", dir, err)
	}
	if !head.Name().IsBranch() {
		return "", "", fmt.Errorf("checkout %s: %w: pass --branch or set CI_COMMIT_BRANCH", dir, ErrDetached)
	}
	return remoteURL, head.Name().Short(), nil
}
