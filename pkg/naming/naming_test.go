package naming_test

import (
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/naming"
)

// TestRepositories pins the one naming rule of every door: everything below the
// registry path given.
func TestRepositories(t *testing.T) {
	tests := []struct {
		registry, app, svc, mig, art string
		want                         [3]string
	}{
		{"registry.gitlab.com/acme/shop", "shop", "", "", "", [3]string{"registry.gitlab.com/acme/shop/shop", "registry.gitlab.com/acme/shop/shop-migration", "registry.gitlab.com/acme/shop/shop/manifests"}},
		{"registry.gitlab.com/acme/", "api", "", "", "", [3]string{"registry.gitlab.com/acme/api", "registry.gitlab.com/acme/api-migration", "registry.gitlab.com/acme/api/manifests"}},
		{"oci://localhost:5000", "shop", "", "", "", [3]string{"localhost:5000/shop", "localhost:5000/shop-migration", "localhost:5000/shop/manifests"}},
		{"localhost:5000", "shop", "localhost:5000/api", "", "", [3]string{"localhost:5000/api", "localhost:5000/api-migration", "localhost:5000/api/manifests"}},
		{"localhost:5000", "shop", "", "localhost:5000/db", "oci://localhost:5000/k8s", [3]string{"localhost:5000/shop", "localhost:5000/db", "localhost:5000/k8s"}},
		{"", "shop", "", "", "", [3]string{"", "", ""}},
	}
	for _, tt := range tests {
		svc, mig, art := naming.Repositories(tt.registry, tt.app, tt.svc, tt.mig, tt.art)
		if got := [3]string{svc, mig, art}; got != tt.want {
			t.Errorf("Repositories(%q, %q, %q, %q, %q) = %q, want %q", tt.registry, tt.app, tt.svc, tt.mig, tt.art, got, tt.want)
		}
		for _, r := range []string{svc, mig, art} {
			if r != "" && !strings.HasPrefix(r, strings.TrimSuffix(strings.TrimPrefix(tt.registry, "oci://"), "/")+"/") {
				t.Errorf("%s is not below the registry path %s", r, tt.registry)
			}
		}
	}
}

func TestValidateRepository(t *testing.T) {
	for repo, want := range map[string]string{
		"registry.gitlab.com/acme/shop": "",
		"localhost:5000/shop":           "",
		"":                              "required",
		"r.example.com/shop:v1":         "has a tag",
		"r.example.com/shop@sha256:ab":  "has a digest",
		"shop":                          "no registry host",
		"r.example.com/Shop!":           "repository",
	} {
		err := naming.ValidateRepository(repo)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("ValidateRepository(%q) = %v, want %q", repo, err, want)
		}
	}
}
