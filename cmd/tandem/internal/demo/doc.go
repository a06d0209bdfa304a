// Package demo ships the go-postgres example end to end on this machine: an in-process
// OCI registry, a local git server, one Docker-free build pushed as two images, the
// [skip ci] commit, the Flux artifact pulled back and rendered, and optionally a local
// control plane where the migration Job gates the Deployment and a failing migration
// fails the release at once.
package demo
