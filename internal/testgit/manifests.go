package testgit

import (
	"testing"

	"github.com/tandem-ci/tandem/pkg/manifest"
)

// NewWithManifests is New with branch main holding k8s/ rendered from spec.
func NewWithManifests(t testing.TB, user, password string, spec manifest.Spec) *Server {
	t.Helper()
	files, err := manifest.Files(spec)
	if err != nil {
		t.Fatal(err)
	}
	seed := map[string]string{}
	for name, b := range files {
		seed["k8s/"+name] = string(b)
	}
	return New(t, user, password, seed)
}
