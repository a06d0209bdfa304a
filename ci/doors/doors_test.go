package doors_test

import (
	"encoding/json"
	"testing"

	"dagger/tandem/doors"

	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/release/releasetest"
)

// daggerDefaults are the +default values the engine fills for omitted arguments.
var daggerDefaults = map[string]any{"path": "k8s", "fluxNamespace": "flux-system"}

// TestDoorsDagger: Release's arguments map onto the same plan as the CLI's flags
// (cmd/tandem/doors_test.go checks the same table). No engine is needed: the mapping is
// a plain function.
func TestDoorsDagger(t *testing.T) {
	scenarios, err := releasetest.Load("../../pkg/release/testdata/doors.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range scenarios {
		t.Run(d.Name, func(t *testing.T) {
			args := map[string]any{}
			for k, v := range daggerDefaults {
				args[k] = v
			}
			for k, v := range d.Dagger {
				args[k] = v
			}
			b, _ := json.Marshal(args)
			var a doors.ReleaseArgs
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatal(err)
			}
			p, err := release.Resolve(a.Config(d.Secrets["gitToken"], d.Secrets["registryPassword"]))
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range releasetest.Problems(d, p) {
				t.Error(problem)
			}
		})
	}
}
