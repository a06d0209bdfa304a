// Package examples_test checks every example's k8s/: it lints clean and renders with
// the names and images the pattern needs.
package examples_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/lint"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

func TestExamples(t *testing.T) {
	dirs, _ := filepath.Glob("*/k8s")
	if len(dirs) < 4 {
		t.Fatalf("want 4 examples with k8s/, found %v", dirs)
	}
	for _, dir := range dirs {
		t.Run(filepath.Dir(dir), func(t *testing.T) {
			rep, err := lint.Lint(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.Findings {
				t.Errorf("lint: %s", f)
			}
			m, err := manifest.BuildWithTag(dir, "v1.42.0")
			if err != nil {
				t.Fatal(err)
			}
			var app, jobName, waitFor string
			var images []string
			for _, r := range m.Resources() {
				y, _ := r.AsYAML()
				switch r.GetKind() {
				case "Deployment":
					app = r.GetName()
					for _, l := range strings.Split(string(y), "\n") {
						if strings.Contains(l, "-migration-v1.42.0") && strings.HasPrefix(strings.TrimSpace(l), "- ") {
							waitFor = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
						}
					}
					images = append(images, imagesOf(string(y))...)
				case "Job":
					jobName = r.GetName()
					images = append(images, imagesOf(string(y))...)
				}
			}
			if jobName != app+"-migration-v1.42.0" || waitFor != jobName {
				t.Errorf("app %q, Job %q, waiter waits for %q", app, jobName, waitFor)
			}
			tagged := 0
			for _, img := range images {
				if strings.HasSuffix(img, ":v1.42.0") {
					tagged++
				}
			}
			if tagged != 2 {
				t.Errorf("images %v: want the service and the migration image tagged v1.42.0", images)
			}
			for _, f := range []string{"Dockerfile", "Dockerfile.migration", ".gitlab-ci.yml", "README.md"} {
				if _, err := os.Stat(filepath.Join(filepath.Dir(dir), f)); err != nil {
					t.Errorf("example lacks %s", f)
				}
			}
		})
	}
}

func imagesOf(y string) []string {
	var out []string
	for _, l := range strings.Split(y, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "image: "); ok {
			out = append(out, v)
		}
	}
	return out
}
