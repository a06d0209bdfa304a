package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/kustomize/api/resmap"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// GoImages builds a Go package once and publishes the service and migration images.
type GoImages struct {
	Dir, Package               string
	App                        string // names the binary of a module-root package (default: the folder's name)
	ServiceRepo, MigrationRepo string
	BuildOptions               []image.BuildOption
	PublishOptions             []image.PublishOption
}

var _ ImagePublisher = (*GoImages)(nil)

// PublishImages implements ImagePublisher.
func (g *GoImages) PublishImages(ctx context.Context, tag string) (image.Result, error) {
	opts := g.BuildOptions
	if base := path.Base(strings.TrimSuffix(g.Package, "/")); g.App != "" && (base == "." || base == "") {
		// The module's root package: the binary is the app, not the checkout's folder.
		opts = append([]image.BuildOption{image.WithBinaryName(g.App)}, opts...)
	}
	b, err := image.BuildGo(ctx, g.Dir, g.Package, opts...)
	if err != nil {
		return image.Result{}, err
	}
	return image.Publish(ctx, b, g.ServiceRepo, g.MigrationRepo, tag, g.PublishOptions...)
}

// Describe says what PublishImages would do.
func (g *GoImages) Describe(tag string) string {
	return fmt.Sprintf("build %s in %s once; push %s:%s and %s:%s", g.Package, g.Dir, g.ServiceRepo, tag, g.MigrationRepo, tag)
}

// GitCommitter commits with pkg/gitops. Check, when set, runs on the clone after the
// bump and before the commit (Build sets it to CheckManifests for a whole release).
type GitCommitter struct {
	Config gitops.Config
	Check  func(ctx context.Context, clone string) error

	checked gitops.Result
}

var _ Validator = (*GitCommitter)(nil)

// Validate checks the branch before the release builds anything (gitops.Check): it
// exists, the token may read it, its variables file holds IMAGE_TAG, and tag is not
// older than it (gitops.ErrSuperseded).
func (g *GitCommitter) Validate(ctx context.Context, tag string) error {
	cfg := g.Config
	cfg.Tag = tag
	var err error
	g.checked, err = gitops.Check(ctx, cfg)
	return err
}

// Checked is what Validate found on the branch.
func (g *GitCommitter) Checked() gitops.Result { return g.checked }

var _ Committer = (*GitCommitter)(nil)

// Commit implements Committer.
func (g *GitCommitter) Commit(ctx context.Context, tag string) (gitops.Result, error) {
	cfg := g.Config
	cfg.Tag = tag
	if g.Check != nil {
		cfg.Check = g.Check
	}
	return gitops.Bump(ctx, cfg)
}

// Describe says what Commit would do.
func (g *GitCommitter) Describe(tag string) string {
	file := g.Config.File
	if file == "" {
		file = "k8s/deployment-variables.yaml"
	}
	check := ""
	if g.Check != nil {
		check = ", check the images the manifests run"
	}
	return fmt.Sprintf("set IMAGE_TAG=%s in %s on %s of %s%s, commit [skip ci], push", tag, file, g.Config.Branch, gitops.StripCredentials(g.Config.URL), check)
}

// FluxArtifacts pushes with pkg/artifact to <Repository>:<tag>.
type FluxArtifacts struct {
	Repository string // host/path, without oci://
	Options    []artifact.Option
}

var _ ArtifactPusher = (*FluxArtifacts)(nil)

// PushArtifact implements ArtifactPusher. The artifact always runs the release's tag:
// when the folder's IMAGE_TAG differs (a checkout before its bump), the artifact is
// pushed from a copy holding the tag, never with the old one under the new tag. A folder
// that builds no resource is refused (with Flux's prune it would delete the app).
func (f *FluxArtifacts) PushArtifact(ctx context.Context, dir, tag, revision string) (artifact.Result, error) {
	opts := f.Options
	if revision != "" {
		opts = append(append([]artifact.Option{}, opts...), artifact.WithRevision(revision))
	}
	url := artifact.URL(f.Repository, tag)
	folder, from, cleanup, err := artifactFolder(ctx, dir, tag)
	if err != nil {
		return artifact.Result{URL: url}, err
	}
	defer cleanup()
	res, err := artifact.Push(ctx, url, folder, opts...)
	res.ImageTagFrom = from
	return res, err
}

// artifactFolder returns the folder to ship for tag: dir itself, or a temporary copy
// with IMAGE_TAG set to tag (from says what it held); its build must hold a resource.
func artifactFolder(ctx context.Context, dir, tag string) (folder, from string, cleanup func(), err error) {
	cleanup = func() {}
	folder = dir
	if err := artifact.CheckFolder(dir); err != nil {
		return "", "", cleanup, err
	}
	// The build reads only what the kustomization lists: IMAGE_TAG is read from it, and
	// the folder is searched for the variables file only when the tag must change.
	m, err := manifest.Build(ctx, dir)
	if err != nil {
		return "", "", cleanup, fmt.Errorf("checking the artifact's manifests %s: %w", dir, err)
	}
	if current := builtImageTag(m); current != "" && current != tag {
		file, current, err := variables.FindIn(dir)
		if errors.Is(err, variables.ErrNotFound) {
			// Not from a file tandem edits (a generator's literal): shipped as it is.
			return folder, "", cleanup, nonEmpty(dir, m)
		}
		if err != nil {
			return "", "", cleanup, err
		}
		tmp, err := os.MkdirTemp("", "tandem-artifact-")
		if err != nil {
			return "", "", cleanup, err
		}
		cleanup = func() { os.RemoveAll(tmp) }
		rel, _ := filepath.Rel(dir, file)
		if err := artifact.Copy(dir, tmp); err != nil {
			cleanup()
			return "", "", func() {}, fmt.Errorf("copying %s to give it IMAGE_TAG %s: %w", dir, tag, err)
		}
		if _, err := variables.SetFile(filepath.Join(tmp, rel), tag, variables.WithRoot(tmp), variables.Scratch()); err != nil {
			cleanup()
			return "", "", func() {}, fmt.Errorf("setting IMAGE_TAG %s in %s for the artifact: %w", tag, file, err)
		}
		folder, from = tmp, current
		if m, err = manifest.Build(ctx, folder); err != nil {
			cleanup()
			return "", "", func() {}, fmt.Errorf("checking the artifact's manifests %s: %w", dir, err)
		}
	}
	if err := nonEmpty(dir, m); err != nil {
		cleanup()
		return "", "", func() {}, err
	}
	return folder, from, cleanup, nil
}

// nonEmpty refuses an artifact that builds to nothing.
func nonEmpty(dir string, m resmap.ResMap) error {
	if m.Size() == 0 {
		return fmt.Errorf("pushing %s: %w: with Flux's prune this artifact would delete every object of the app; list the manifests under resources: in its kustomization.yaml", dir, manifest.ErrEmpty)
	}
	return nil
}

// builtImageTag is IMAGE_TAG of the built deployment-variables ConfigMap ("" without one).
func builtImageTag(m resmap.ResMap) string {
	for _, r := range m.Resources() {
		if r.GetKind() == "ConfigMap" && (r.OrgId().Name == variables.ConfigMapName || r.GetName() == variables.ConfigMapName) {
			if v, ok := r.GetDataMap()[variables.Key]; ok {
				return v
			}
		}
	}
	return ""
}

// Describe says what PushArtifact would do.
func (f *FluxArtifacts) Describe(tag string) string {
	return "push the manifests folder to " + artifact.URL(f.Repository, tag)
}

// FluxReconciler requests a Flux reconcile of its targets and waits for Ready.
type FluxReconciler struct {
	Dynamic dynamic.Interface
	Targets []cluster.Target
	Timeout time.Duration
}

var _ Reconciler = (*FluxReconciler)(nil)

// Reconcile implements Reconciler.
func (f *FluxReconciler) Reconcile(ctx context.Context) ([]cluster.Reconciled, error) {
	return cluster.Reconcile(ctx, f.Dynamic, f.Timeout, f.Targets...)
}

// Describe says what Reconcile would do.
func (f *FluxReconciler) Describe(string) string {
	var names []string
	for _, t := range f.Targets {
		names = append(names, t.String())
	}
	return "request reconcile of " + strings.Join(names, " then ") + " and wait for Ready"
}

// RolloutWatcher follows the migration Job and the Deployment of App in Namespace.
type RolloutWatcher struct {
	Kube      kube.Interface
	Namespace string
	App       string
	Timeout   time.Duration
}

var _ Watcher = (*RolloutWatcher)(nil)

// Watch implements Watcher.
func (w *RolloutWatcher) Watch(ctx context.Context, tag string) (cluster.Rollout, error) {
	return cluster.WatchRelease(ctx, w.Kube, w.Namespace, w.App, tag, w.Timeout)
}

// Describe says what Watch would do.
func (w *RolloutWatcher) Describe(tag string) string {
	return fmt.Sprintf("wait for job %s/%s-migration-%s, then deployment %s to roll out", w.Namespace, w.App, tag, w.App)
}

// PrebuiltImages finds both images in the registry instead of building them: for images
// built elsewhere (kaniko, Docker, Dagger, non-Go stacks).
type PrebuiltImages struct {
	ServiceRepo, MigrationRepo string
	Options                    []image.PublishOption
}

var _ ImagePublisher = (*PrebuiltImages)(nil)

// PublishImages implements ImagePublisher: it checks both <repo>:<tag> exist.
func (p *PrebuiltImages) PublishImages(ctx context.Context, tag string) (image.Result, error) {
	return image.Find(ctx, p.ServiceRepo, p.MigrationRepo, tag, p.Options...)
}

// WritesNothing implements ReadOnly.
func (p *PrebuiltImages) WritesNothing() bool { return true }

// Describe says what PublishImages would do.
func (p *PrebuiltImages) Describe(tag string) string {
	return fmt.Sprintf("check %s:%s and %s:%s exist (prebuilt), build nothing", p.ServiceRepo, tag, p.MigrationRepo, tag)
}
