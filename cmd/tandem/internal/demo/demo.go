package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/tandem-ci/tandem/internal/gitserver"
	"github.com/tandem-ci/tandem/internal/localcluster"
	"github.com/tandem-ci/tandem/pkg/analyze"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/progress"
	"github.com/tandem-ci/tandem/pkg/release"
	tagpkg "github.com/tandem-ci/tandem/pkg/tag"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// Config says what to ship.
type Config struct {
	Example string    // the example's folder (a Go module with k8s/)
	Package string    // the service's Go package inside it
	App     string    // app name
	Cluster bool      // also run the cluster part
	Out     io.Writer // progress lines; nil for none
	// CompatCheck is the pre-flight's check of the previous release's service (see
	// preflight.Config.CompatCheck).
	CompatCheck string
}

// DefaultConfig ships examples/go-postgres.
func DefaultConfig() Config {
	return Config{Example: "examples/go-postgres", Package: "./cmd/notes", App: "notes", CompatCheck: "/notes"}
}

// Step is one progress line.
type Step struct {
	N        int           `json:"n"`
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	Detail   string        `json:"detail"`
}

// Rendered is what the artifact builds to.
type Rendered struct {
	JobName        string `json:"jobName"`
	WaitsFor       string `json:"waitsFor"`
	ServiceImage   string `json:"serviceImage"`
	MigrationImage string `json:"migrationImage"`
}

// Result is everything the demo did.
type Result struct {
	Registry string         `json:"registry"`
	Repo     string         `json:"repo"`
	Release  release.Result `json:"release"`
	// Stopped is the release with a breaking migration that the pre-flight stopped
	// before its commit (absent without PostgreSQL).
	Stopped  *release.Result `json:"stopped,omitempty"`
	Rendered Rendered        `json:"rendered"`
	Cluster  *ClusterResult  `json:"cluster,omitempty"`
	Steps    []Step          `json:"steps"`
	Total    time.Duration   `json:"total"`
}

type run struct {
	cfg   Config
	res   *Result
	start time.Time
	tmp   string
	reg   string
	kc    authn.Keychain
	repo  string       // the git server's repository URL
	src   string       // the example's copy the images are built from
	plan  release.Plan // of the last release
	// preflight is set when PostgreSQL's server binaries are installed.
	preflight bool
	// applied counts the objects of the last apply.
	applied int
}

// Run runs the demo. Everything it starts is stopped before it returns.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{}
	r := &run{cfg: cfg, res: &res, start: time.Now(), kc: authn.NewMultiKeychain()}
	if _, err := os.Stat(filepath.Join(cfg.Example, "k8s", "kustomization.yaml")); err != nil {
		return res, fmt.Errorf("example %s not found (run from tandem's repository root or pass --example): %w", cfg.Example, err)
	}
	if _, ok := localcluster.Dir(); cfg.Cluster && (!ok || !localcluster.HasFlux()) {
		return res, ErrNoControlPlane
	}
	var err error
	if r.tmp, err = os.MkdirTemp("", "tandem-demo-"); err != nil {
		return res, err
	}
	defer os.RemoveAll(r.tmp)

	stopRegistry, err := r.startRegistry()
	if err != nil {
		return res, err
	}
	defer stopRegistry()
	git, err := r.startGit()
	if err != nil {
		return res, err
	}
	defer git.Close()
	if _, err := preflight.PostgresBinDir(); err == nil {
		r.preflight = true
	} else {
		r.note("no pre-flight: %v", err)
	}
	if res.Release, err = r.release(ctx, "v1.1.0", r.src); err != nil {
		return res, err
	}
	if err := r.verify(ctx, "v1.1.0"); err != nil {
		return res, err
	}
	if r.preflight {
		if err := r.breaking(ctx, "v1.1.1"); err != nil {
			return res, err
		}
	}
	if cfg.Cluster {
		if err := r.cluster(ctx); err != nil {
			return res, err
		}
	}
	res.Total = time.Since(r.start)
	return res, nil
}

// step records and prints one progress line.
func (r *run) step(name string, d time.Duration, format string, args ...any) {
	rec := progress.New(&r.res.Steps, func(s Step) {
		if r.cfg.Out != nil {
			fmt.Fprintf(r.cfg.Out, "[%2d] %-9s %8s  %s\n", s.N, s.Name, s.Duration.Round(time.Millisecond), s.Detail)
		}
	})
	rec.Record(Step{N: rec.Len() + 1, Name: name, Duration: d, Detail: fmt.Sprintf(format, args...)})
}

// note prints an indented remark under the last step.
func (r *run) note(format string, args ...any) {
	if r.cfg.Out != nil {
		fmt.Fprintf(r.cfg.Out, "     note: "+format+"\n", args...)
	}
}

func (r *run) startRegistry() (func(), error) {
	t := time.Now()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(l)
	r.reg = l.Addr().String()
	r.res.Registry = r.reg
	r.step("registry", time.Since(t), "OCI registry (go-containerregistry) on %s", r.reg)
	return func() { srv.Close() }, nil
}

// startGit serves a repository holding a copy of the example whose k8s/ points at the
// local registry.
func (r *run) startGit() (*gitserver.Server, error) {
	t := time.Now()
	src := filepath.Join(r.tmp, "src")
	r.src = src
	if err := os.CopyFS(src, os.DirFS(r.cfg.Example)); err != nil {
		return nil, fmt.Errorf("copying %s: %w", r.cfg.Example, err)
	}
	spec := manifest.Spec{App: r.cfg.App, Namespace: r.cfg.App, MigrationCommand: []string{"/app/" + r.cfg.App, "migrate", "up"}, Tag: "v1.0.0"}
	if _, err := manifest.Init(filepath.Join(src, "k8s"), spec, manifest.InitOptions{Registry: r.reg, Waiter: manifest.WaiterTandem, NoFlux: true, Force: true}); err != nil {
		return nil, err
	}
	root := filepath.Join(r.tmp, "git")
	os.MkdirAll(root, 0o755)
	git, err := gitserver.Start(root, "demo", "demo-token")
	if err != nil {
		return nil, err
	}
	if r.res.Repo, err = git.CreateRepo(r.cfg.App, src, nil); err != nil {
		git.Close()
		return nil, err
	}
	r.repo = r.res.Repo
	r.step("git", time.Since(t), "git server (git http-backend) holding %s with k8s/ for the local registry: %s", r.cfg.Example, r.res.Repo)
	return git, nil
}

// release runs the CI side for tag with the images built from src, one progress line
// per release step (and per pre-flight phase). The checkout (r.src) follows the branch.
func (r *run) release(ctx context.Context, tag, src string) (release.Result, error) {
	p, err := release.Resolve(release.Config{App: r.cfg.App, Registry: r.reg, Tag: tagpkg.Config{Explicit: tag},
		RepoURL: r.repo, Branch: "main", GitUsername: "demo", GitToken: "demo-token"})
	if err != nil {
		return release.Result{}, err
	}
	r.plan = p
	s := release.Setup{Registry: release.Registry{Keychain: r.kc}, Source: src, Package: r.cfg.Package, Binary: r.cfg.App,
		Progress: func(s release.Step) { r.step(s.Name, s.Duration, "%s: %s", tag, s.Detail) }}
	if r.preflight {
		s.Checkout = r.src
		// The analysis reads the release's own migrations (the source built, not the
		// checkout that still holds the live release).
		s.Preflight = &preflight.Config{CompatCheck: r.cfg.CompatCheck, Progress: func(ph preflight.Phase) {
			if r.cfg.Out == nil {
				return
			}
			fmt.Fprintf(r.cfg.Out, "     %s\n", ph.Line())
			if ph.Name == preflight.PhaseAnalyze {
				if _, rest, ok := strings.Cut(ph.Detail, "\n"); ok {
					for _, l := range strings.Split(rest, "\n") {
						fmt.Fprintf(r.cfg.Out, "       %s\n", l)
					}
				}
			}
		}, Migrations: &analyze.Config{Dir: filepath.Join(src, "internal", "migrations"), Display: "internal/migrations"}}
	}
	rel, err := release.Build(ctx, p, s)
	if err != nil {
		return release.Result{}, err
	}
	res, err := rel.Run(ctx)
	if err != nil {
		return res, fmt.Errorf("release %s: %w", tag, err)
	}
	if res.Commit != nil && !res.Superseded {
		if _, err := variables.SetFile(filepath.Join(r.src, filepath.FromSlash(p.VariablesFile)), tag); err != nil {
			return res, err
		}
	}
	return res, nil
}

// breaking releases tag with a migration that drops a column the live release reads:
// the pre-flight must stop it before the commit.
func (r *run) breaking(ctx context.Context, tag string) error {
	src := filepath.Join(r.tmp, "src-"+tag)
	if err := os.CopyFS(src, os.DirFS(r.src)); err != nil {
		return err
	}
	sql := "-- +goose Up\nALTER TABLE notes DROP COLUMN created_at; -- the live release still reads it\n\n-- +goose Down\nSELECT 1;\n"
	if err := os.WriteFile(filepath.Join(src, "internal", "migrations", "00004_drop_created_at.sql"), []byte(sql), 0o644); err != nil {
		return err
	}
	live := r.plan
	res, err := r.release(ctx, tag, src)
	r.res.Stopped = &res
	t := time.Now() // the check below; the release's own steps were timed above
	if !errors.Is(err, preflight.ErrIncompatible) || !errors.Is(err, preflight.ErrUnsafeMigration) {
		return fmt.Errorf("release %s drops a column release %s reads: the pre-flight's analysis and compat check should have stopped it, got: %v", tag, live.Tag, err)
	}
	// Nothing reached git or the artifact repository.
	out, gerr := gitserver.Git(r.tmp, "-c", "http.extraHeader=Authorization: Basic "+basicAuth("demo", "demo-token"), "ls-remote", r.repo, "refs/heads/main")
	if gerr != nil {
		return fmt.Errorf("git ls-remote: %w: %s", gerr, out)
	}
	head := strings.Fields(out + " -")[0]
	if r.res.Release.Commit == nil || head != r.res.Release.Commit.Commit {
		return fmt.Errorf("branch main is at %s after release %s's failed pre-flight, want %s's commit", head, tag, live.Tag)
	}
	client := oci.NewClient([]crane.Option{crane.WithAuthFromKeychain(r.kc)})
	if _, err := client.Pull(ctx, r.plan.ArtifactRepository+":"+tag, filepath.Join(r.tmp, "should-not-exist")); err == nil {
		return fmt.Errorf("release %s pushed its artifact despite its failed pre-flight", tag)
	}
	r.step("stopped", time.Since(t), "%s (migration 00004 drops notes.created_at, which %s's service reads: predicted by the analysis, proven by the compat check) stopped before the commit: branch main still at %s (%s), no artifact %s",
		tag, live.Tag, live.Tag, head[:min(8, len(head))], tag)
	return nil
}

// verify pulls the artifact back and renders it.
func (r *run) verify(ctx context.Context, tag string) error {
	t := time.Now()
	dir := filepath.Join(r.tmp, "pulled-"+tag)
	client := oci.NewClient([]crane.Option{crane.WithAuthFromKeychain(r.kc)})
	if _, err := client.Pull(ctx, r.plan.ArtifactRepository+":"+tag, dir); err != nil {
		return fmt.Errorf("pulling the artifact back: %w", err)
	}
	m, err := manifest.Build(ctx, dir)
	if err != nil {
		return err
	}
	rd, err := inspect(m)
	if err != nil {
		return err
	}
	r.res.Rendered = rd
	wantJob := r.cfg.App + "-migration-" + tag
	if rd.JobName != wantJob || rd.WaitsFor != wantJob || rd.ServiceImage != r.plan.ServiceImage || rd.MigrationImage != r.plan.MigrationImage {
		return fmt.Errorf("rendered artifact is inconsistent: %+v", rd)
	}
	r.step("render", time.Since(t), "artifact pulled back and built: Job %s, waiter waits for %s, images %s and %s",
		rd.JobName, rd.WaitsFor, rd.ServiceImage, rd.MigrationImage)
	return nil
}
