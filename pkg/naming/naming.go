package naming

import (
	"errors"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Suffixes of the naming rule (see Repositories).
const (
	MigrationSuffix = "-migration"
	ArtifactSubpath = "/manifests"
)

// Repositories is tandem's one naming rule, the same for every door (CLI, Dagger module,
// GitLab component, tandem init, demo): with registry the project's registry path
// ($CI_REGISTRY_IMAGE), the service is <registry>/<app>, the migration
// <service>-migration and the manifests artifact <service>/manifests, all below the
// registry path (GitLab's registry refuses repositories outside the project). Explicit
// repositories win; a missing input leaves the derived names empty.
func Repositories(registry, app, service, migration, artifact string) (svc, mig, art string) {
	registry = strings.TrimSuffix(strings.TrimPrefix(registry, "oci://"), "/")
	svc = strings.TrimPrefix(service, "oci://")
	if svc == "" && registry != "" && app != "" {
		svc = registry + "/" + app
	}
	mig, art = strings.TrimPrefix(migration, "oci://"), strings.TrimPrefix(artifact, "oci://")
	if mig == "" && svc != "" {
		mig = svc + MigrationSuffix
	}
	if art == "" && svc != "" {
		art = svc + ArtifactSubpath
	}
	return svc, mig, art
}

// ValidateRepository accepts a repository with a registry host and without tag or
// digest: the release tag is appended.
func ValidateRepository(repo string) error {
	switch {
	case repo == "":
		return errors.New("required (e.g. registry.example.com/group/app)")
	case strings.Contains(repo, "@"):
		return errors.New("has a digest; give the repository only, the release tag is appended")
	case strings.LastIndex(repo, ":") > strings.LastIndex(repo, "/"):
		return errors.New("has a tag; give the repository only, the release tag is appended")
	case !strings.Contains(repo, "/"):
		return errors.New("has no registry host (e.g. registry.example.com/group/app)")
	}
	_, err := name.NewRepository(repo)
	return err
}
