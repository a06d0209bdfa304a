// Package image builds a Go service into an OCI image without Docker (ko-style: one
// static binary on a base image), derives the migration image from the same build, and
// publishes both under one tag, uploading each layer once.
package image
