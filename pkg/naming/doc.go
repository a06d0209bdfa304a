// Package naming holds tandem's one naming rule for repositories: the service image
// <registry>/<app>, the migration image <service>-migration and the manifests artifact
// <service>/manifests. Manifests, lint and release steps all name repositories through it.
package naming
