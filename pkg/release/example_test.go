package release_test

import (
	"context"
	"fmt"

	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/tag"
)

func ExampleResolve() {
	p, err := release.Resolve(release.Config{
		App:           "shop",
		Registry:      "registry.gitlab.com/acme/shop", // $CI_REGISTRY_IMAGE
		ManifestsPath: "deploy/k8s",
		Tag:           tag.Config{PipelineID: "42"}, // $CI_PIPELINE_ID
		RepoURL:       "https://gitlab.com/acme/shop.git",
		Branch:        "main",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Tag, p.JobName)
	fmt.Println(p.ServiceImage)
	fmt.Println(p.MigrationImage)
	fmt.Println(p.ArtifactURL)
	fmt.Println(p.VariablesFile)
	// Output:
	// v1.42.0 shop-migration-v1.42.0
	// registry.gitlab.com/acme/shop/shop:v1.42.0
	// registry.gitlab.com/acme/shop/shop-migration:v1.42.0
	// oci://registry.gitlab.com/acme/shop/shop/manifests:v1.42.0
	// deploy/k8s/deployment-variables.yaml
}

func ExampleRelease_Planned() {
	p, _ := release.Resolve(release.Config{App: "shop", Registry: "registry.example.com/acme", Tag: tag.Config{Explicit: "v1.42.0"},
		RepoURL: "https://gitlab.example.com/acme/shop.git", Branch: "main"})
	r, _ := release.Build(context.Background(), p, release.Setup{Source: ".", Package: "./cmd/server"})
	for _, s := range r.Planned().Steps {
		fmt.Println(s.Name, s.Status+":", s.Detail)
	}
	// Output:
	// images planned: build ./cmd/server in . once; push registry.example.com/acme/shop:v1.42.0 and registry.example.com/acme/shop-migration:v1.42.0
	// commit planned: set IMAGE_TAG=v1.42.0 in k8s/deployment-variables.yaml on main of https://gitlab.example.com/acme/shop.git, check the images the manifests run, commit [skip ci], push
	// artifact planned: push the manifests folder to oci://registry.example.com/acme/shop/manifests:v1.42.0
}
