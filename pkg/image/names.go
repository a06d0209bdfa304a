package image

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Repositories returns the service and migration repositories of app under registry:
// <registry>/<app> and <registry>/<app>-migration unless named explicitly.
func Repositories(registry, app, service, migration string) (string, string, error) {
	registry = strings.TrimSuffix(registry, "/")
	if service == "" {
		service = app
	}
	if migration == "" {
		migration = service + "-migration"
	}
	var out [2]string
	for i, repo := range []string{service, migration} {
		full := registry + "/" + repo
		if registry == "" {
			full = repo
		}
		if _, err := name.NewRepository(full); err != nil {
			return "", "", fmt.Errorf("image repository %q (registry %q, app %q): %w", full, registry, app, err)
		}
		out[i] = full
	}
	return out[0], out[1], nil
}
