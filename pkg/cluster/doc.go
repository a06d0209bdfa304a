// Package cluster is the in-cluster half of a release: the waiter that gates pods on the
// migration Job (and fails fast when it fails), the Flux reconcile request, and the
// rollout watch that tells the pipeline how the release ended. Everything watches; no
// sleep loops.
package cluster
