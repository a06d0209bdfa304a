// Package release runs the CI side of the pattern in one call: compute the tag, publish
// the service and migration images, commit the tag back, push the manifests as a Flux
// artifact. Each step is an interface so callers (CLI, Dagger, tests) can swap one.
package release
