package release_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// TestNewDoor: a new door into a release (here a hand-written Config) is a Config, a
// Setup and three calls; the test counts the lines between the markers (fewer than 15).
func TestNewDoor(t *testing.T) {
	e := newEnv(t, "k8s", "")
	hello, _ := filepath.Abs("../image/testdata/hello")
	ctx := context.Background()
	// door:begin
	p, err := release.Resolve(release.Config{App: "shop", Registry: e.reg.Host, Tag: tag.Config{Explicit: "v1.5.0"},
		RepoURL: e.git.RepoURL, Branch: "main", GitUsername: "ci", GitToken: "git-token", RegistryUsername: "ci", RegistryPassword: "registry-pw"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := release.Build(ctx, p, release.Setup{Registry: p.Registry(false), Source: hello})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx)
	// door:end
	if err != nil || res.Artifact == nil || res.Commit.Commit != e.git.Git(t, "rev-parse", "main") || res.Images.Service.Ref != e.reg.Host+"/shop:v1.5.0" {
		t.Fatalf("release = %+v, %v", res, err)
	}
	src, _ := os.ReadFile("door_test.go")
	_, door, _ := strings.Cut(string(src), "// door:"+"begin\n")
	door, _, _ = strings.Cut(door, "// door:"+"end")
	if n := strings.Count(door, "\n"); n >= 15 {
		t.Errorf("a door takes %d lines to run a release; keep it under 15", n)
	}
}
