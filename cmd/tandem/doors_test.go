package main

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/release/releasetest"
)

// TestDoorsCLI: `tandem release` maps flags and GitLab's variables onto the same plan
// as the Dagger module maps its arguments (ci/doors_test.go checks the same table).
func TestDoorsCLI(t *testing.T) {
	doors, err := releasetest.Load("../../pkg/release/testdata/doors.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doors {
		t.Run(d.Name, func(t *testing.T) {
			for _, n := range append(d.EnvNames, "TANDEM_TAG", "TANDEM_TAG_FORMAT", "TANDEM_GIT_USERNAME", "TANDEM_REGISTRY_USERNAME", "TANDEM_REGISTRY_PASSWORD", "CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD") {
				t.Setenv(n, d.Env[n])
			}
			f := &releaseFlags{}
			cmd := &cobra.Command{Use: "release"}
			f.bindRelease(cmd)
			if err := cmd.ParseFlags(d.CLI); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.config(true)
			if err != nil {
				t.Fatal(err)
			}
			p, err := release.Resolve(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range releasetest.Problems(d, p) {
				t.Error(problem)
			}
		})
	}
}
