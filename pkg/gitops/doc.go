// Package gitops commits the release tag back to the repository with go-git: a shallow
// clone of the branch, the IMAGE_TAG rewrite, a "[skip ci]" commit and a push that
// retries on concurrent pushes and never moves the tag backwards.
package gitops
