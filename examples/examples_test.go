// Package examples_test checks every example's k8s/: it lints clean and renders with
// the names and images the pattern needs.
package examples_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/lint"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// projects are the GitLab projects the examples live in: the component releases each to
// $CI_REGISTRY_IMAGE (registry.gitlab.com/<project>) under the naming rule every door shares.
var projects = map[string]struct{ registry, app string }{
	"alembic-python": {"registry.gitlab.com/acme/inventory", "inventory"},
	"go-postgres":    {"registry.gitlab.com/tandem-ci/tandem", "notes"}, // released by tandem's own pipeline
	"liquibase":      {"registry.gitlab.com/acme/billing", "billing"},
	"prisma-node":    {"registry.gitlab.com/acme/shop-api", "shop-api"},
}

// TestExamplesRunWhatTheReleasePushes: the images each example's k8s/ runs are the
// ones a release of its project pushes (else the cluster sits in ImagePullBackOff).
func TestExamplesRunWhatTheReleasePushes(t *testing.T) {
	for name, proj := range projects {
		p, err := release.Resolve(release.Config{App: proj.app, Registry: proj.registry, Tag: tag.Config{PipelineID: "42"},
			RepoURL: "https://gitlab.com/" + strings.TrimPrefix(proj.registry, "registry.gitlab.com/") + ".git", Branch: "main",
			ManifestsPath: filepath.Join(name, "k8s")})
		if err != nil {
			t.Fatal(err)
		}
		if err := release.CheckManifests(context.Background(), filepath.Join(name, "k8s"), p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestExamples(t *testing.T) {
	dirs, _ := filepath.Glob("*/k8s")
	if len(dirs) != len(projects) {
		t.Errorf("examples %v, projects known %d: name each example's project in projects", dirs, len(projects))
	}
	if len(dirs) < 4 {
		t.Fatalf("want 4 examples with k8s/, found %v", dirs)
	}
	for _, dir := range dirs {
		t.Run(filepath.Dir(dir), func(t *testing.T) {
			rep, err := lint.Lint(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.Findings {
				t.Errorf("lint: %s", f)
			}
			m, err := manifest.BuildWithTag(context.Background(), dir, "v1.42.0")
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
