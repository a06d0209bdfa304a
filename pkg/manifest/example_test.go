package manifest_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tandem-ci/tandem/pkg/manifest"
)

func ExampleRender() {
	dir, _ := os.MkdirTemp("", "k8s")
	defer os.RemoveAll(dir)
	spec := manifest.Spec{App: "my-shop", Image: "registry.example.com/my-shop", MigrationCommand: []string{"migrate", "up"}}
	if _, err := manifest.Render(dir, spec); err != nil {
		fmt.Println(err)
		return
	}
	m, _ := manifest.BuildWithTag(context.Background(), dir, "v1.42.0")
	for _, r := range m.Resources() {
		if r.GetKind() == "Job" {
			fmt.Println(r.GetName())
		}
	}
	// Output: my-shop-migration-v1.42.0
}
