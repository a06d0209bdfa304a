// Package artifact pushes the k8s/ folder as a Flux OCI artifact with fluxcd/pkg/oci:
// Flux's media types, the source and revision annotations `flux push artifact` sets, and
// a fixed creation time so the same content always has the same digest.
package artifact
