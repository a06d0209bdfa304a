package naming_test

import (
	"os/exec"
	"strings"
	"testing"
)

// manifestsLayer are the packages that read and write manifests; stepsLayer those that
// talk to registries, git and clusters. Arrows go from steps to manifests, never back.
var (
	manifestsLayer = []string{"pkg/manifest", "pkg/lint", "pkg/naming", "pkg/tag", "pkg/variables", "pkg/progress"}
	stepsLayer     = []string{"pkg/image", "pkg/artifact", "pkg/gitops", "pkg/cluster", "pkg/preflight", "pkg/release", "pkg/waiter"}
)

// TestLayers: no package of the manifests layer depends on one of the steps layer
// (go list -deps, so indirect imports count too).
func TestLayers(t *testing.T) {
	const mod = "github.com/tandem-ci/tandem/"
	for _, pkg := range manifestsLayer {
		out, err := exec.Command("go", "list", "-deps", "../../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, step := range stepsLayer {
				if dep == mod+step {
					t.Errorf("%s depends on %s: the naming rule and the manifests sit below the steps", pkg, step)
				}
			}
		}
	}
}
