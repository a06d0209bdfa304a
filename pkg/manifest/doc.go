// Package manifest scaffolds the pattern's k8s/ folder for one service (ConfigMap with
// IMAGE_TAG, migration Job, Deployment gated by a wait-for-migration init container, RBAC,
// kustomization with replacements) and builds a kustomization the way Flux does.
package manifest
