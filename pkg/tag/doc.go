// Package tag computes the release tag that the service image, the migration image and
// the migration Job share, validates it against the limits Kubernetes and OCI registries
// put on it, and orders tags so a release never moves a branch backwards.
package tag
