package cluster_test

import (
	"fmt"

	"github.com/tandem-ci/tandem/pkg/cluster"
)

func ExampleFluxTargets() {
	for _, t := range cluster.FluxTargets("flux-system", "notes", "notes") {
		fmt.Println(t)
	}
	// Output:
	// ocirepositories flux-system/notes
	// kustomizations flux-system/notes
}
