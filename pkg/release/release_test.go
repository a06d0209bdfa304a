package release_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testnet"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// env is a real registry and a real git server whose main branch holds the manifests
// folder dir rendered for app shop.
type env struct {
	reg *testregistry.Registry
	git *testgit.Server
	cfg release.Config
}

func files(t testing.TB, spec manifest.Spec) map[string][]byte {
	t.Helper()
	f, err := manifest.Files(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// newEnv seeds dir (in the repository) with k8s manifests for shop whose images are
// image (default: the plan's, <registry>/shop).
func newEnv(t testing.TB, dir, img string) *env {
	t.Helper()
	reg := testregistry.New(t, "ci", "registry-pw")
	if img == "" {
		img = reg.Host + "/shop"
	}
	git := testgit.New(t, "ci", "git-token", testgit.Under(dir, files(t, manifest.Spec{App: "shop", Image: img, MigrationCommand: []string{"/app/hello", "migrate"}, Tag: "v1.0.0"})))
	return &env{reg: reg, git: git, cfg: release.Config{App: "shop", Registry: reg.Host, ManifestsPath: dir,
		RepoURL: git.RepoURL, Branch: "main", GitUsername: "ci", GitToken: "git-token", RegistryUsername: "ci", RegistryPassword: "registry-pw"}}
}

func (e *env) keychain() image.Credentials {
	return image.Credentials{Registry: e.reg.Host, Username: "ci", Password: "registry-pw"}
}

// release resolves e.cfg for tag t and wires the Go build of testdata/hello.
func (e *env) release(t testing.TB, releaseTag string) *release.Release {
	t.Helper()
	cfg := e.cfg
	cfg.Tag = tag.Config{Explicit: releaseTag}
	p, err := release.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hello, _ := filepath.Abs("../image/testdata/hello")
	r, err := release.Build(context.Background(), p, release.Setup{Registry: release.Registry{Keychain: image.Keychain(e.keychain(), func(string) string { return "" })}, Source: hello})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) pull(t testing.TB, ref string) string {
	t.Helper()
	out := t.TempDir()
	if _, err := oci.NewClient([]crane.Option{crane.WithAuth(basic("ci", "registry-pw"))}).Pull(context.Background(), ref, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunEndToEnd(t *testing.T) {
	e := newEnv(t, "k8s", "")
	ctx := context.Background()
	res, err := e.release(t, "v1.42.0").Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Images.Migration.LayersUploaded != 0 || res.Superseded || res.Commit.Dir != "" {
		t.Errorf("result = %+v", res)
	}
	for _, s := range res.Steps {
		t.Logf("step %-8s %-9s %8s %s", s.Name, s.Status, s.Duration.Round(1e6), s.Detail)
		if s.Status != release.StatusDone {
			t.Errorf("step %s = %s", s.Name, s.Status)
		}
	}
	head := e.git.Git(t, "rev-parse", "main")
	if res.Commit.Commit != head {
		t.Errorf("commit %s, server main %s", res.Commit.Commit, head)
	}
	// The artifact (at <registry>/shop/manifests) holds the bumped manifests and names the bump commit.
	meta, err := oci.NewClient([]crane.Option{crane.WithAuth(basic("ci", "registry-pw"))}).Pull(ctx, e.reg.Host+"/shop/manifests:v1.42.0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if meta.Revision != "main@sha1:"+head || meta.Source != e.git.RepoURL {
		t.Errorf("artifact revision, source = %q, %q; want main@sha1:%s, %s", meta.Revision, meta.Source, head, e.git.RepoURL)
	}
	m, err := manifest.Build(context.Background(), e.pull(t, e.reg.Host+"/shop/manifests:v1.42.0"))
	if err != nil {
		t.Fatal(err)
	}
	y, _ := m.AsYaml()
	for _, want := range []string{"name: shop-migration-v1.42.0", e.reg.Host + "/shop:v1.42.0", e.reg.Host + "/shop-migration:v1.42.0"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("built artifact lacks %q", want)
		}
	}

	// Re-running the same release changes nothing.
	again, err := e.release(t, "v1.42.0").Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Images.Service.Digest != res.Images.Service.Digest || again.Images.Service.LayersUploaded != 0 {
		t.Errorf("rerun images: %+v", again.Images)
	}
	if again.Steps[1].Status != release.StatusUnchanged || again.Steps[2].Status != release.StatusUnchanged || again.Artifact.Digest != res.Artifact.Digest {
		t.Errorf("rerun steps = %+v", again.Steps)
	}
	if n := e.git.Git(t, "rev-list", "--count", "main"); n != "2" {
		t.Errorf("main has %s commits after a rerun, want 2", n)
	}

	// An older release is superseded: no commit, no artifact.
	old, err := e.release(t, "v1.41.0").Run(ctx)
	if err != nil || !old.Superseded || old.Artifact != nil {
		t.Errorf("older release = %+v, %v", old, err)
	}
	if _, err := crane.Digest(e.reg.Host+"/shop/manifests:v1.41.0", crane.WithAuth(basic("ci", "registry-pw"))); err == nil {
		t.Error("superseded release pushed an artifact")
	}

	// Asked to push anyway, the artifact carries the superseded release's own tag.
	r := e.release(t, "v1.41.0")
	r.PushSuperseded = true
	forced, err := r.Run(ctx)
	if err != nil || !forced.Superseded || forced.Artifact == nil {
		t.Fatalf("superseded release with PushSuperseded = %+v, %v", forced, err)
	}
	if m, err := manifest.Build(context.Background(), e.pull(t, e.reg.Host+"/shop/manifests:v1.41.0")); err != nil {
		t.Fatal(err)
	} else if y, _ := m.AsYaml(); !strings.Contains(string(y), "name: shop-migration-v1.41.0") {
		t.Errorf("forced artifact of v1.41.0 does not render v1.41.0")
	}
	if n := e.git.Git(t, "rev-list", "--count", "main"); n != "2" {
		t.Errorf("a superseded release committed: main has %s commits", n)
	}
}

// TestManifestsPathElsewhere: a manifests folder other than k8s/ is bumped where it is
// and shipped, in a normal and a superseded-but-pushed release.
func TestManifestsPathElsewhere(t *testing.T) {
	e := newEnv(t, "deploy/k8s", "")
	res, err := e.release(t, "v1.7.0").Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.VariablesFile != "deploy/k8s/deployment-variables.yaml" {
		t.Errorf("variables file = %s", res.Plan.VariablesFile)
	}
	if got := e.git.Git(t, "show", "main:deploy/k8s/deployment-variables.yaml"); !strings.Contains(got, `IMAGE_TAG: "v1.7.0"`) {
		t.Errorf("deploy/k8s/deployment-variables.yaml on main:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(e.pull(t, e.reg.Host+"/shop/manifests:v1.7.0"), "kustomization.yaml")); err != nil {
		t.Errorf("artifact of deploy/k8s: %v", err)
	}
	r := e.release(t, "v1.6.0")
	r.PushSuperseded = true
	if res, err := r.Run(context.Background()); err != nil || !res.Superseded {
		t.Fatalf("superseded push of deploy/k8s = %v", err)
	}
	if m, err := manifest.Build(context.Background(), e.pull(t, e.reg.Host+"/shop/manifests:v1.6.0")); err != nil {
		t.Fatal(err)
	} else if y, _ := m.AsYaml(); !strings.Contains(string(y), "shop-migration-v1.6.0") {
		t.Error("superseded artifact of deploy/k8s does not render v1.6.0")
	}
}

// TestManifestsPathWithSpaces (issue 19, item 10): a manifests folder whose name has a
// space or a non-ASCII letter is bumped, checked and shipped like any other.
func TestManifestsPathWithSpaces(t *testing.T) {
	e := newEnv(t, "deploy dir/k8s é", "")
	res, err := e.release(t, "v1.7.0").Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := e.git.Git(t, "show", "main:deploy dir/k8s é/deployment-variables.yaml"); !strings.Contains(got, `IMAGE_TAG: "v1.7.0"`) {
		t.Errorf("variables file on main:\n%s", got)
	}
	if m, err := manifest.Build(context.Background(), e.pull(t, e.reg.Host+"/shop/manifests:v1.7.0")); err != nil || res.Artifact == nil {
		t.Errorf("artifact: %v", err)
	} else if y, _ := m.AsYaml(); !strings.Contains(string(y), "shop-migration-v1.7.0") {
		t.Error("the artifact does not render v1.7.0")
	}
}

// TestImageMismatchStopsBeforeCommit: manifests that run images the release does not
// push fail the release before the commit, naming the file, container and both images.
func TestImageMismatchStopsBeforeCommit(t *testing.T) {
	e := newEnv(t, "k8s", "registry.example.com/acme/shop")
	res, err := e.release(t, "v1.42.0").Run(context.Background())
	if !errors.Is(err, release.ErrImageMismatch) {
		t.Fatalf("Run = %v, want ErrImageMismatch", err)
	}
	t.Log(err)
	for _, want := range []string{"k8s/migration-job.yaml: Job shop-migration-v1.42.0, container migrate runs registry.example.com/acme/shop-migration:v1.42.0",
		e.reg.Host + "/shop-migration:v1.42.0", "k8s/deployment.yaml: Deployment shop, container shop runs registry.example.com/acme/shop:v1.42.0", e.reg.Host + "/shop:v1.42.0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if n := e.git.Git(t, "rev-list", "--count", "main"); n != "1" {
		t.Errorf("main has %s commits, want 1 (nothing committed)", n)
	}
	if res.Artifact != nil || res.Steps[len(res.Steps)-1].Name != release.StepCommit {
		t.Errorf("steps = %+v", res.Steps)
	}
	if _, err := crane.Digest(e.reg.Host+"/shop/manifests:v1.42.0", crane.WithAuth(basic("ci", "registry-pw"))); err == nil {
		t.Error("an artifact was pushed")
	}
}

// TestPrebuilt releases images built elsewhere: found by digest, not built; missing ones
// stop the release before the commit.
func TestPrebuilt(t *testing.T) {
	e := newEnv(t, "k8s", "")
	e.cfg.Prebuilt = true
	_, err := e.release(t, "v1.5.0").Run(context.Background())
	if !errors.Is(err, image.ErrNotFound) || !strings.Contains(err.Error(), e.reg.Host+"/shop:v1.5.0") || !strings.Contains(err.Error(), e.reg.Host+"/shop-migration:v1.5.0") {
		t.Fatalf("missing prebuilt images = %v", err)
	}
	if n := e.git.Git(t, "rev-list", "--count", "main"); n != "1" {
		t.Errorf("main has %s commits, want 1", n)
	}
	// Build and push them "elsewhere".
	hello, _ := filepath.Abs("../image/testdata/hello")
	b, err := image.BuildGo(context.Background(), hello, ".")
	if err != nil {
		t.Fatal(err)
	}
	kc := image.WithKeychain(image.Keychain(e.keychain(), func(string) string { return "" }))
	pushed, err := image.Publish(context.Background(), b, e.reg.Host+"/shop", e.reg.Host+"/shop-migration", "v1.5.0", kc)
	if err != nil {
		t.Fatal(err)
	}
	before, written := e.reg.Requests.Load(), len(e.reg.Written())
	res, err := e.release(t, "v1.5.0").Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Images.Service.Digest != pushed.Service.Digest || res.Images.Migration.Digest != pushed.Migration.Digest {
		t.Errorf("prebuilt digests = %+v, pushed %+v", res.Images, pushed)
	}
	if !strings.Contains(e.git.Git(t, "show", "main:k8s/deployment-variables.yaml"), "v1.5.0") {
		t.Error("prebuilt release did not commit")
	}
	// Prebuilt images are checked, not uploaded again: every write is the artifact's.
	for _, p := range e.reg.Written()[written:] {
		if !strings.HasPrefix(p, "/v2/shop/manifests/") {
			t.Errorf("prebuilt release wrote %s: only the artifact repository shop/manifests may be written", p)
		}
	}
	if n := e.reg.Requests.Load() - before; n > 30 {
		t.Errorf("prebuilt release made %d registry requests, want at most 30 (two image checks and one artifact push)", n)
	}
}

func TestPlannedDoesNothing(t *testing.T) {
	e := newEnv(t, "k8s", "")
	before := e.reg.Requests.Load()
	res := e.release(t, "v1.42.0").Planned()
	if len(res.Steps) != 3 || res.Steps[0].Status != release.StatusPlanned || !strings.Contains(res.Steps[1].Detail, "IMAGE_TAG=v1.42.0 in k8s/deployment-variables.yaml") {
		t.Errorf("plan = %+v", res.Steps)
	}
	if e.reg.Requests.Load() != before || e.git.Git(t, "rev-list", "--count", "main") != "1" {
		t.Error("planning touched the registry or the repository")
	}
}

func TestRunStopsAtFirstFailure(t *testing.T) {
	e := newEnv(t, "k8s", "")
	e.cfg.GitToken = "wrong"
	res, err := e.release(t, "v1.42.0").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "git authentication failed") || strings.Contains(err.Error(), "git-token") {
		t.Fatalf("Run = %v", err)
	}
	if res.Artifact != nil || res.Steps[len(res.Steps)-1].Status != release.StatusFailed {
		t.Errorf("steps after failure = %+v", res.Steps)
	}
	if e.git.Git(t, "rev-list", "--count", "main") != "1" {
		t.Error("failed release moved main")
	}
}

// TestResolveRefusesBadInput: every problem at once, naming the input, before anything runs.
func TestResolveRefusesBadInput(t *testing.T) {
	good := release.Config{App: "shop", Registry: "registry.example.com/acme", Tag: tag.Config{Explicit: "v1.2.0"}, RepoURL: "https://git.example.com/acme/shop.git", Branch: "main"}
	tests := []struct {
		name string
		edit func(*release.Config)
		want []string
	}{
		{"no branch", func(c *release.Config) { c.Branch = "" }, []string{"branch: required"}},
		{"bad message", func(c *release.Config) { c.Message = "{{.Nope}} [skip ci]" }, []string{"commit message", "Nope"}},
		{"unclosed message", func(c *release.Config) { c.Message = "{{.Tag" }, []string{"commit message"}},
		{"no registry", func(c *release.Config) { c.Registry = "" }, []string{"service repository: required", "artifact repository: required"}},
		{"tagged image", func(c *release.Config) { c.ServiceRepository = "r.example.com/shop:v1" }, []string{`service repository "r.example.com/shop:v1": has a tag`}},
		{"same repos", func(c *release.Config) { c.MigrationRepository = "registry.example.com/acme/shop" }, []string{"must differ"}},
		{"job name too long", func(c *release.Config) { c.App = strings.Repeat("a", 50) }, []string{"app/tag"}},
		{"bad tag", func(c *release.Config) { c.Tag.Explicit = "V1_2" }, []string{"tag:"}},
		{"scp url", func(c *release.Config) { c.RepoURL = "git@gitlab.com:acme/shop.git" }, []string{"repository URL", "scp-style"}},
		{"escaping path", func(c *release.Config) { c.ManifestsPath = "../other" }, []string{`manifests path "../other"`}},
		{"absolute file", func(c *release.Config) { c.VariablesFile = "/etc/x.yaml" }, []string{`variables file "/etc/x.yaml"`}},
		{"several", func(c *release.Config) { c.Branch, c.Registry = "", "" }, []string{"branch: required", "service repository: required"}},
		// Issue 19: a feature branch must not become the newest release Flux follows.
		{"feature branch", func(c *release.Config) { c.Branch, c.DefaultBranch = "feature", "main" }, []string{`branch "feature": not the default branch "main"`, "name feature the release branch"}},
		{"other release branch", func(c *release.Config) { c.Branch, c.ReleaseBranch = "feature", "release" }, []string{`branch "feature": the release branch is "release"`}},
		// Issue 19: an extra tag is checked before anything is built.
		{"bad extra tag", func(c *release.Config) { c.ExtraTags = []string{"latest", "bad tag!"} }, []string{`extra tag "bad tag!": not a valid OCI tag`}},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		_, err := release.Resolve(cfg)
		if !errors.Is(err, release.ErrInvalidConfig) {
			t.Errorf("%s: Resolve = %v, want ErrInvalidConfig", tt.name, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", tt.name, w, err)
			}
		}
	}
	if _, err := release.Resolve(good); err != nil {
		t.Errorf("good config: %v", err)
	}
	// The default branch, or a branch named on purpose, is released.
	for _, edit := range []func(*release.Config){
		func(c *release.Config) { c.DefaultBranch = "main" },
		func(c *release.Config) { c.Branch, c.DefaultBranch, c.ReleaseBranch = "feature", "main", "feature" },
	} {
		cfg := good
		edit(&cfg)
		if _, err := release.Resolve(cfg); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}

// TestResolveManifestsPathRoot: --path . is the repository root, not the default k8s.
func TestResolveManifestsPathRoot(t *testing.T) {
	for _, path := range []string{".", "./", "./."} {
		p, err := release.Resolve(release.Config{App: "shop", Registry: "r.example.com/acme", Tag: tag.Config{Explicit: "v1.2.0"},
			RepoURL: "https://git.example.com/acme/shop.git", Branch: "main", ManifestsPath: path})
		if err != nil || p.ManifestsPath != "." || p.VariablesFile != "deployment-variables.yaml" {
			t.Errorf("path %q: manifests %q, variables %q (%v)", path, p.ManifestsPath, p.VariablesFile, err)
		}
	}
}

// TestResolveCredentials: credentials in the URL move to the plan, never into names.
func TestResolveCredentials(t *testing.T) {
	p, err := release.Resolve(release.Config{App: "shop", Registry: "r.example.com/acme", Tag: tag.Config{Explicit: "v1.2.0"},
		RepoURL: "https://deploy-token-7:s3cret@git.example.com/acme/shop.git", Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if p.RepoURL != "https://git.example.com/acme/shop.git" || p.Source != p.RepoURL || p.GitUsername != "deploy-token-7" || p.GitToken() != "s3cret" {
		t.Errorf("plan = %+v (token %q)", p, p.GitToken())
	}
	if c := p.Commit(); c.URL != p.RepoURL || c.Password != "s3cret" || c.File != "k8s/deployment-variables.yaml" {
		t.Errorf("commit config = %+v", c)
	}
}

// TestNetworkStepsTimeOut: a registry or git server that accepts and never answers
// fails the step within the release's Timeout, naming the step and the host.
func TestNetworkStepsTimeOut(t *testing.T) {
	silent := testnet.Silent(t)
	e := newEnv(t, "k8s", "")
	cases := map[string]func(*release.Config){
		"images":   func(c *release.Config) { c.Registry = silent }, // images go to the silent registry
		"commit":   func(c *release.Config) { c.RepoURL = "http://" + silent + "/repo.git" },
		"artifact": func(c *release.Config) { c.ArtifactRepository = silent + "/shop/manifests" },
	}
	for step, edit := range cases {
		cfg := e.cfg
		edit(&cfg)
		saved := e.cfg
		e.cfg = cfg
		r := e.release(t, "v1.9.0")
		e.cfg = saved
		if step != "images" {
			r.Images = nil // the commit and artifact steps alone
		}
		r.Timeout = time.Second
		err := testnet.Within(t, 60*time.Second, func() error { _, err := r.Run(context.Background()); return err })
		t.Logf("%s: %v", step, err)
		if !errors.Is(err, release.ErrStepTimeout) || !strings.Contains(err.Error(), step+" step") || !strings.Contains(err.Error(), silent) {
			t.Errorf("%s against a silent server: %v", step, err)
		}
	}
}
