// Package dockerfile decides whether the migration image needs a build of its own: when
// Dockerfile.migration is absent or differs from the service Dockerfile only in CMD and
// ENTRYPOINT, the migration image is the service build with another command.
package dockerfile
