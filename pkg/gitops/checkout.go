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

// Checkout is what a local checkout says about where its files come from.
type Checkout struct {
	URL    string `json:"url"`    // origin, without credentials; empty without one
	Branch string `json:"branch"` // empty when HEAD is detached
	Commit string `json:"commit"`
}

// Head describes the checkout holding dir (dir may be a folder inside it).
func Head(dir string) (Checkout, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return Checkout{}, fmt.Errorf("opening git checkout %s: %w", dir, err)
	}
	head, err := repo.Head()
	if err != nil {
		return Checkout{}, fmt.Errorf("reading HEAD of %s: %w", dir, err)
	}
	c := Checkout{Commit: head.Hash().String()}
	if head.Name().IsBranch() {
		c.Branch = head.Name().Short()
	}
	if remote, err := repo.Remote("origin"); err == nil && len(remote.Config().URLs) > 0 {
		c.URL = StripCredentials(remote.Config().URLs[0])
	}
	return c, nil
}
