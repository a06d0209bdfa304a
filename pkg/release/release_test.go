package release_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/release"
)

// setup returns a release wired to a real registry and a real git server whose main
// branch holds k8s/ rendered for app shop.
func setup(t testing.TB) (*release.Release, *testregistry.Registry, *testgit.Server) {
	t.Helper()
	reg := testregistry.New(t, "ci", "registry-pw")
	git := testgit.NewWithManifests(t, "ci", "git-token", manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"/app/hello", "migrate"}, Tag: "v1.0.0"})
	kc := image.Keychain(image.Credentials{Registry: reg.Host, Username: "ci", Password: "registry-pw"}, func(string) string { return "" })
	hello, _ := filepath.Abs("../image/testdata/hello")
	r := &release.Release{
		Images:    &release.GoImages{Dir: hello, Package: ".", ServiceRepo: reg.Host + "/shop", MigrationRepo: reg.Host + "/shop-migration", PublishOptions: []image.PublishOption{image.WithKeychain(kc)}},
		Committer: &release.GitCommitter{Config: gitops.Config{URL: git.RepoURL, Branch: "main", Username: "ci", Password: "git-token", App: "shop"}},
		Artifacts: &release.FluxArtifacts{Repository: reg.Host + "/shop-manifests", Options: []artifact.Option{artifact.WithKeychain(kc), artifact.WithSource(git.RepoURL)}},
	}
	return r, reg, git
}

func TestRunEndToEnd(t *testing.T) {
	r, reg, git := setup(t)
	ctx := context.Background()
	res, err := r.Run(ctx, "v1.42.0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(res.Commit.Dir)
	if res.Images.Migration.LayersUploaded != 0 || res.Superseded {
		t.Errorf("result = %+v", res)
	}
	for _, s := range res.Steps {
		t.Logf("step %-8s %-9s %8s %s", s.Name, s.Status, s.Duration.Round(1e6), s.Detail)
		if s.Status != "done" {
			t.Errorf("step %s = %s", s.Name, s.Status)
		}
	}
	head := git.Git(t, "rev-parse", "main")
	if res.Commit.Commit != head {
		t.Errorf("commit %s, server main %s", res.Commit.Commit, head)
	}
	// The artifact holds the bumped manifests and names the bump commit.
	out := t.TempDir()
	meta, err := oci.NewClient([]crane.Option{crane.WithAuth(basic("ci", "registry-pw"))}).Pull(ctx, reg.Host+"/shop-manifests:v1.42.0", out)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Revision != "main@sha1:"+head {
		t.Errorf("artifact revision = %q, want main@sha1:%s", meta.Revision, head)
	}
	m, err := manifest.Build(out)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := m.AsYaml()
	for _, want := range []string{"name: shop-migration-v1.42.0", reg.Host + "/shop:v1.42.0", reg.Host + "/shop-migration:v1.42.0"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("built artifact lacks %q", want)
		}
	}

	// Re-running the same release changes nothing.
	again, err := r.Run(ctx, "v1.42.0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(again.Commit.Dir)
	if again.Images.Service.Digest != res.Images.Service.Digest || again.Images.Service.LayersUploaded != 0 {
		t.Errorf("rerun images: %+v", again.Images)
	}
	if again.Steps[1].Status != "unchanged" || again.Steps[2].Status != "unchanged" || again.Artifact.Digest != res.Artifact.Digest {
		t.Errorf("rerun steps = %+v", again.Steps)
	}
	if n := git.Git(t, "rev-list", "--count", "main"); n != "2" {
		t.Errorf("main has %s commits after a rerun, want 2", n)
	}

	// An older release is superseded: no commit, no artifact.
	old, err := r.Run(ctx, "v1.41.0", false)
	if err != nil || !old.Superseded || old.Artifact != nil {
		t.Errorf("older release = %+v, %v", old, err)
	}
	if _, err := crane.Digest(reg.Host+"/shop-manifests:v1.41.0", crane.WithAuth(basic("ci", "registry-pw"))); err == nil {
		t.Error("superseded release pushed an artifact")
	}

	// Asked to push anyway, the artifact carries the superseded release's own tag.
	r.PushSuperseded = true
	forced, err := r.Run(ctx, "v1.41.0", false)
	if err != nil || !forced.Superseded || forced.Artifact == nil {
		t.Fatalf("superseded release with PushSuperseded = %+v, %v", forced, err)
	}
	out41 := t.TempDir()
	if _, err := oci.NewClient([]crane.Option{crane.WithAuth(basic("ci", "registry-pw"))}).Pull(ctx, reg.Host+"/shop-manifests:v1.41.0", out41); err != nil {
		t.Fatal(err)
	}
	if m, err := manifest.Build(out41); err != nil {
		t.Fatal(err)
	} else if y, _ := m.AsYaml(); !strings.Contains(string(y), "name: shop-migration-v1.41.0") {
		t.Errorf("forced artifact of v1.41.0 does not render v1.41.0")
	}
	if n := git.Git(t, "rev-list", "--count", "main"); n != "2" {
		t.Errorf("a superseded release committed: main has %s commits", n)
	}
}

func TestDryRunDoesNothing(t *testing.T) {
	r, reg, git := setup(t)
	before := reg.Requests.Load()
	res, err := r.Run(context.Background(), "v1.42.0", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 3 || res.Steps[0].Status != "planned" || !strings.Contains(res.Steps[1].Detail, "IMAGE_TAG=v1.42.0") {
		t.Errorf("plan = %+v", res.Steps)
	}
	if reg.Requests.Load() != before || git.Git(t, "rev-list", "--count", "main") != "1" {
		t.Error("dry run touched the registry or the repository")
	}
}

func TestRunStopsAtFirstFailure(t *testing.T) {
	r, _, git := setup(t)
	r.Committer.(*release.GitCommitter).Config.Password = "wrong"
	res, err := r.Run(context.Background(), "v1.42.0", false)
	if err == nil || !strings.Contains(err.Error(), "git authentication failed") || strings.Contains(err.Error(), "git-token") {
		t.Fatalf("Run = %v", err)
	}
	if res.Artifact != nil || res.Steps[len(res.Steps)-1].Status != "failed" {
		t.Errorf("steps after failure = %+v", res.Steps)
	}
	if git.Git(t, "rev-list", "--count", "main") != "1" {
		t.Error("failed release moved main")
	}
}
