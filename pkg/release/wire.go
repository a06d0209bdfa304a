package release

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/client-go/dynamic"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// DefaultTimeout bounds each network step and each wait unless Setup.Timeout says otherwise.
const DefaultTimeout = waiter.DefaultTimeout

// Registry is how every step reaches the registries: one keychain and one transport
// choice, made once (as crane's Options carry auth and transport to every call).
type Registry struct {
	Keychain authn.Keychain
	Insecure bool // plain HTTP
	// Transport carries every registry request (nil: the default); e.g. image.Redirect
	// to reach a registry through a tunnel.
	Transport http.RoundTripper
}

// Registry is the plan's registry access: its explicit credentials, then the
// environment's and the Docker config (image.Keychain).
func (p Plan) Registry(insecure bool) Registry {
	return Registry{Keychain: image.Keychain(p.RegistryCredentials(), nil), Insecure: insecure}
}

func (r Registry) keychain() authn.Keychain {
	if r.Keychain == nil {
		return authn.DefaultKeychain
	}
	return r.Keychain
}

// PublishOptions are r as pkg/image's options.
func (r Registry) PublishOptions() []image.PublishOption { return r.publishOptions() }

// ArtifactOptions are r as pkg/artifact's options.
func (r Registry) ArtifactOptions() []artifact.Option { return r.artifactOptions() }

func (r Registry) publishOptions() []image.PublishOption {
	opts := []image.PublishOption{image.WithKeychain(r.keychain())}
	if r.Insecure {
		opts = append(opts, image.WithInsecure())
	}
	if r.Transport != nil {
		opts = append(opts, image.WithTransport(r.Transport))
	}
	return opts
}

func (r Registry) artifactOptions() []artifact.Option {
	opts := []artifact.Option{artifact.WithKeychain(r.keychain())}
	if r.Insecure {
		opts = append(opts, artifact.WithInsecure())
	}
	if r.Transport != nil {
		opts = append(opts, artifact.WithTransport(r.Transport))
	}
	return opts
}

func (r Registry) nameOptions() []name.Option {
	if r.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Setup is what a release needs besides its Plan: where things are on this machine and
// which optional steps run. Doors fill it from their flags or arguments; Build decides
// everything else.
type Setup struct {
	Registry Registry
	// Source and Package: the Go service built here (default "."), unless the plan is
	// prebuilt or Images is set; BaseImage is the base of its image (default: empty).
	Source, Package, BaseImage string
	// Binary names the built binary (default: the package's last element; the app for
	// the module's root package).
	Binary string
	// Images replaces how the images are made (the Dagger module builds Dockerfiles).
	Images ImagePublisher
	// Checkout is the local working copy: its manifests (when present) are checked
	// before anything is built, and the pre-flight reads the live release from it.
	Checkout string
	// Preflight, when set, runs the pre-flight with these options (what the manifests
	// cannot say: database, compat check, environment).
	Preflight *preflight.Config
	// Ignore adds ignore patterns to the artifact's (flux's defaults).
	Ignore []string
	// Revision is the artifact's revision annotation when the release has no commit
	// step (push-artifact alone); default: the checkout's <branch>@sha1:<HEAD>.
	Revision string
	// Cluster clients: with Reconcile, Flux reconciles the plan's targets; with Watch, the
	// migration Job and the Deployment are followed in Namespace.
	Kube      kube.Interface
	Dynamic   dynamic.Interface
	Namespace string
	Reconcile bool
	Watch     bool
	// Timeout bounds each step and each wait (default DefaultTimeout).
	Timeout        time.Duration
	PushSuperseded bool
	// HistoryDepth is how many commits of the branch a rollback reads for its releases
	// (default gitops.DefaultHistoryDepth).
	HistoryDepth int
	Progress     func(Step)
}

// Build wires the release of p, with the steps p was resolved for (Resolve: images,
// commit, artifact; ResolveSteps: those named) and the optional ones s asks for. Every
// door calls it: none assembles steps itself. What can be checked offline is checked
// here (the checkout's manifests run the images the release pushes).
func Build(ctx context.Context, p Plan, s Setup) (*Release, error) {
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Timeout < 0 {
		return nil, fmt.Errorf("%w: timeout %s: must be positive", ErrInvalidConfig, s.Timeout)
	}
	r := &Release{Plan: p, PushSuperseded: s.PushSuperseded, Progress: s.Progress, Timeout: s.Timeout}
	has := func(step string) bool { return slices.Contains(p.Steps, step) }
	whole := has(StepImages) && has(StepCommit)
	if s.Checkout != "" && whole {
		if local := filepath.Join(s.Checkout, filepath.FromSlash(p.ManifestsPath)); isDir(local) {
			if err := CheckManifests(ctx, local, p); err != nil {
				return nil, err
			}
		}
	}
	var rb *Rollback
	if p.Rollback {
		rb = &Rollback{Plan: p, Registry: s.Registry, Depth: s.HistoryDepth}
		if s.Preflight != nil {
			rb.Options = *s.Preflight
		}
		r.Preflight, r.ProveFirst = rb, true
	}
	if has(StepImages) && rb != nil {
		r.Images = &RollbackImages{Rollback: rb, Options: s.Registry.publishOptions()}
	} else if has(StepImages) {
		imgs, err := s.images(p)
		if err != nil {
			return nil, err
		}
		r.Images = imgs
	}
	if has(StepCommit) {
		c := &GitCommitter{Config: p.Commit()}
		if whole { // the images the manifests run are the ones this release pushes
			c.Check = func(ctx context.Context, clone string) error {
				return CheckManifests(ctx, filepath.Join(clone, p.ManifestsPath), p)
			}
		}
		r.Committer = c
		if rb != nil {
			rb.committer = c
		}
	}
	if has(StepArtifact) {
		opts := append(s.Registry.artifactOptions(), artifact.WithSource(p.Source), artifact.WithIgnore(s.Ignore...), artifact.WithExtraTags(p.ExtraTags...))
		if !has(StepCommit) {
			opts = append(opts, s.annotations(p)...)
		}
		r.Artifacts = &FluxArtifacts{Repository: p.ArtifactRepository, Options: opts}
	}
	if rb == nil && (s.Preflight != nil || has(StepPreflight)) {
		cfg := preflight.Config{}
		if s.Preflight != nil {
			cfg = *s.Preflight
		}
		if cfg.Runner == nil && cfg.Keychain == nil {
			cfg.Keychain, cfg.NameOptions = s.Registry.keychain(), append(cfg.NameOptions, s.Registry.nameOptions()...)
		}
		cfg.Redact = append(cfg.Redact, p.RegistryPassword(), p.GitToken())
		r.Preflight = &Preflight{Plan: p, Checkout: or(s.Checkout, "."), Options: cfg}
	}
	if s.Reconcile {
		if s.Dynamic == nil {
			return nil, fmt.Errorf("%w: reconcile needs a Kubernetes client", ErrInvalidConfig)
		}
		r.Reconciler = &FluxReconciler{Dynamic: s.Dynamic, Targets: p.FluxTargets(), Timeout: s.Timeout}
	}
	if s.Watch {
		if s.Kube == nil {
			return nil, fmt.Errorf("%w: watch needs a Kubernetes client", ErrInvalidConfig)
		}
		r.Watcher = &RolloutWatcher{Kube: s.Kube, Namespace: s.Namespace, App: p.App, Timeout: s.Timeout}
	}
	return r, nil
}

// images is the images step: given, prebuilt (found), or the Go build of Source.
func (s Setup) images(p Plan) (ImagePublisher, error) {
	opts := s.Registry.publishOptions()
	switch {
	case s.Images != nil:
		return s.Images, nil
	case p.Prebuilt:
		return &PrebuiltImages{ServiceRepo: p.ServiceRepository, MigrationRepo: p.MigrationRepository, Options: opts}, nil
	}
	g := &GoImages{Dir: or(s.Source, "."), Package: or(s.Package, "."), App: p.App, ServiceRepo: p.ServiceRepository, MigrationRepo: p.MigrationRepository, PublishOptions: opts}
	if s.Binary != "" {
		g.BuildOptions = append(g.BuildOptions, image.WithBinaryName(s.Binary))
	}
	if s.BaseImage != "" {
		base, err := image.Base(s.BaseImage, s.Registry.keychain())
		if err != nil {
			return nil, err
		}
		g.BuildOptions = append(g.BuildOptions, image.WithBase(base))
	}
	return g, nil
}

// annotations are the artifact's source and revision when no commit step names them:
// Setup.Revision and the plan's source, else what the checkout holding the folder says.
func (s Setup) annotations(p Plan) []artifact.Option {
	src, rev := p.Source, s.Revision
	if src == "" || rev == "" {
		if h, err := gitops.Head(p.ManifestsPath); err == nil {
			src = or(src, h.URL)
			rev = or(rev, artifact.Revision(h.Branch, h.Commit))
		}
	}
	return []artifact.Option{artifact.WithSource(src), artifact.WithRevision(rev)}
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}
