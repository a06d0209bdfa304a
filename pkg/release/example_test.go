package release_test

import (
	"context"
	"fmt"

	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/release"
)

func ExampleRelease_Run() {
	r := &release.Release{
		Images:    &release.GoImages{Dir: ".", Package: "./cmd/server", ServiceRepo: "registry.example.com/shop", MigrationRepo: "registry.example.com/shop-migration"},
		Committer: &release.GitCommitter{Config: gitops.Config{URL: "https://gitlab.example.com/acme/shop.git", Branch: "main"}},
		Artifacts: &release.FluxArtifacts{Repository: "registry.example.com/shop/manifests"},
	}
	res, _ := r.Run(context.Background(), "v1.42.0", true)
	for _, s := range res.Steps {
		fmt.Println(s.Name, s.Status+":", s.Detail)
	}
	// Output:
	// images planned: build ./cmd/server in . once; push registry.example.com/shop:v1.42.0 and registry.example.com/shop-migration:v1.42.0
	// commit planned: set IMAGE_TAG=v1.42.0 in k8s/deployment-variables.yaml on main of https://gitlab.example.com/acme/shop.git, commit [skip ci], push
	// artifact planned: push the manifests folder to oci://registry.example.com/shop/manifests:v1.42.0
}
