package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// releaseFlags gathers every flag of the release commands; each command binds the
// groups it needs.
type releaseFlags struct {
	tag      tag.Config
	app      string
	insecure bool
	// images
	source, pkg, image, migrationImage string
	baseImage                          string
	regUser, regPassword               string
	// commit
	repoURL, branch, gitUser, gitToken string
	file, message, author, email       string
	ciSkipOption                       bool
	checkout                           string
	// artifact
	artifactRepo, path, artifactSource string
	revision                           string
	ignore, extraTags                  []string
	// release
	dryRun, pushSuperseded bool
	// cluster steps
	cluster                       clusterFlags
	reconcile, watch              bool
	fluxSource, fluxKustomization string
}

func (f *releaseFlags) bindImages(fs *pflag.FlagSet) {
	fs.StringVar(&f.source, "source", ".", "Go module folder of the service")
	fs.StringVar(&f.pkg, "package", ".", "Go package of the service binary, relative to --source")
	fs.StringVar(&f.image, "image", env("CI_REGISTRY_IMAGE"), "service image repository ($CI_REGISTRY_IMAGE)")
	fs.StringVar(&f.migrationImage, "migration-image", "", "migration image repository (default <image>-migration)")
	fs.StringVar(&f.baseImage, "base-image", "", "base image for the binary, e.g. gcr.io/distroless/static (default: empty, works offline)")
}

func (f *releaseFlags) bindRegistry(fs *pflag.FlagSet) {
	fs.StringVar(&f.regUser, "registry-username", env("TANDEM_REGISTRY_USERNAME"), "registry user ($TANDEM_REGISTRY_USERNAME; then $CI_REGISTRY_USER, then Docker config)")
	fs.StringVar(&f.regPassword, "registry-password", "", "registry password (prefer $TANDEM_REGISTRY_PASSWORD: flags show up in process lists)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow plain-HTTP registries")
}

// registryPassword is --registry-password, else $TANDEM_REGISTRY_PASSWORD.
func (f *releaseFlags) registryPassword() string {
	if f.regPassword != "" {
		return f.regPassword
	}
	return env("TANDEM_REGISTRY_PASSWORD")
}

func (f *releaseFlags) bindCommit(fs *pflag.FlagSet) {
	fs.StringVar(&f.repoURL, "repo-url", "", "git repository to push to (default: origin of --checkout)")
	fs.StringVar(&f.checkout, "checkout", ".", "local checkout whose origin and branch are the defaults (may be shallow and detached)")
	fs.StringVar(&f.branch, "branch", env("CI_COMMIT_BRANCH"), "branch to commit to ($CI_COMMIT_BRANCH)")
	fs.StringVar(&f.gitUser, "git-username", env("TANDEM_GIT_USERNAME"), "git user for the token ($TANDEM_GIT_USERNAME; default tandem)")
	fs.StringVar(&f.file, "file", "", "file holding IMAGE_TAG inside the repository (default k8s/deployment-variables.yaml)")
	fs.StringVar(&f.message, "message", gitops.DefaultMessage, "commit message template over .App .Tag .Old")
	fs.StringVar(&f.author, "author-name", env("GITLAB_USER_NAME"), "commit author ($GITLAB_USER_NAME; default tandem)")
	fs.StringVar(&f.email, "author-email", env("GITLAB_USER_EMAIL"), "commit author email ($GITLAB_USER_EMAIL)")
	fs.BoolVar(&f.ciSkipOption, "push-option-ci-skip", false, "also send the git push option ci.skip")
}

func (f *releaseFlags) bindArtifact(fs *pflag.FlagSet) {
	fs.StringVar(&f.artifactRepo, "artifact-repo", "", "artifact repository, host/path (default <image>-manifests or $CI_REGISTRY_IMAGE/manifests)")
	fs.StringVar(&f.path, "path", "k8s", "manifests folder (inside the repository for release)")
	fs.StringVar(&f.artifactSource, "artifact-source", env("CI_PROJECT_URL"), "source annotation ($CI_PROJECT_URL)")
	fs.StringSliceVar(&f.ignore, "ignore", nil, "extra ignore patterns (.gitignore syntax) besides flux's defaults")
	fs.StringSliceVar(&f.extraTags, "extra-tag", nil, "also tag the artifact, e.g. latest")
}

func (f *releaseFlags) images() (*release.GoImages, error) {
	if f.image == "" {
		return nil, errors.New("--image: required (or set CI_REGISTRY_IMAGE)")
	}
	mig := f.migrationImage
	if mig == "" {
		mig = f.image + "-migration"
	}
	kc := image.Keychain(image.Credentials{Username: f.regUser, Password: f.registryPassword()}, nil)
	opts := []image.PublishOption{image.WithKeychain(kc)}
	if f.insecure {
		opts = append(opts, image.WithInsecure())
	}
	g := &release.GoImages{Dir: f.source, Package: f.pkg, ServiceRepo: f.image, MigrationRepo: mig, PublishOptions: opts}
	if f.baseImage != "" {
		base, err := image.Base(f.baseImage, kc)
		if err != nil {
			return nil, err
		}
		g.BuildOptions = append(g.BuildOptions, image.WithBase(base))
	}
	return g, nil
}

func (f *releaseFlags) committer() (*release.GitCommitter, error) {
	url, branch := f.repoURL, f.branch
	if url == "" {
		var err error
		if url, branch, err = gitops.FromCheckout(f.checkout, branch); err != nil {
			return nil, fmt.Errorf("%w (or pass --repo-url and --branch)", err)
		}
	}
	return &release.GitCommitter{Config: gitops.Config{
		URL: url, Branch: branch, Username: f.gitUser, Password: env("TANDEM_GIT_TOKEN"), File: f.file, App: f.app,
		Message: f.message, AuthorName: f.author, AuthorEmail: f.email, SkipCIPush: f.ciSkipOption,
	}}, nil
}

func (f *releaseFlags) artifacts() (*release.FluxArtifacts, error) {
	repo := f.artifactRepo
	switch {
	case repo != "":
	case env("CI_REGISTRY_IMAGE") != "":
		repo = env("CI_REGISTRY_IMAGE") + "/manifests"
	case f.image != "":
		repo = f.image + "-manifests"
	default:
		return nil, errors.New("--artifact-repo: required (or set CI_REGISTRY_IMAGE)")
	}
	opts := []artifact.Option{artifact.WithKeychain(image.Keychain(image.Credentials{Username: f.regUser, Password: f.registryPassword()}, nil)), artifact.WithIgnore(f.ignore...), artifact.WithExtraTags(f.extraTags...)}
	if f.artifactSource != "" {
		opts = append(opts, artifact.WithSource(gitops.StripCredentials(f.artifactSource)))
	}
	if f.insecure {
		opts = append(opts, artifact.WithInsecure())
	}
	return &release.FluxArtifacts{Repository: repo, Options: opts}, nil
}

// runRelease runs r and prints one progress line a step, or the result as JSON.
func runRelease(cmd *cobra.Command, f *releaseFlags, r *release.Release) error {
	t, err := tag.Compute(f.tag)
	if err != nil {
		return err
	}
	if f.app != "" {
		if _, err := tag.JobName(f.app, t.Tag); err != nil {
			return err
		}
	}
	format, err := outputFormat(cmd)
	if err != nil {
		return err
	}
	if format == "text" {
		fmt.Fprintf(cmd.OutOrStdout(), "release %s (tag from %s)\n", t.Tag, t.Source)
		r.Progress = func(s release.Step) {
			fmt.Fprintf(cmd.OutOrStdout(), "  %-8s %-9s %7s  %s\n", s.Name, s.Status, s.Duration.Round(time.Millisecond), s.Detail)
		}
	}
	res, err := r.Run(cmd.Context(), t.Tag, f.dryRun)
	if err != nil {
		return err
	}
	return emit(cmd, res, func(w io.Writer) {
		for _, s := range res.Steps {
			if s.Status == "planned" {
				fmt.Fprintf(w, "  %-8s planned    %s\n", s.Name, s.Detail)
			}
		}
		if res.Superseded {
			fmt.Fprintln(w, "superseded: a newer tag is already on the branch; nothing pushed")
		}
		if !f.dryRun {
			fmt.Fprintf(w, "done in %s\n", res.Duration.Round(time.Millisecond))
		}
	})
}

func newReleaseCmd() *cobra.Command {
	f := &releaseFlags{}
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Build and push both images, commit IMAGE_TAG [skip ci], push the manifests artifact",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			imgs, err := f.images()
			if err != nil {
				return err
			}
			c, err := f.committer()
			if err != nil {
				return err
			}
			a, err := f.artifacts()
			if err != nil {
				return err
			}
			r := &release.Release{Images: imgs, Committer: c, Artifacts: a, ManifestsPath: f.path, PushSuperseded: f.pushSuperseded}
			if err := f.clusterSteps(r); err != nil {
				return err
			}
			return runRelease(cmd, f, r)
		},
	}
	f.bindAll(cmd)
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the plan, change nothing")
	cmd.Flags().BoolVar(&f.pushSuperseded, "push-superseded", false, "push the artifact even when a newer tag is already on the branch")
	cmd.Flags().BoolVar(&f.reconcile, "reconcile", false, "then ask Flux to reconcile (see tandem reconcile)")
	cmd.Flags().BoolVar(&f.watch, "watch", false, "then follow the migration Job and the rollout (see tandem watch)")
	cmd.Flags().StringVar(&f.fluxSource, "flux-source", "", "OCIRepository to reconcile (default: --app)")
	cmd.Flags().StringVar(&f.fluxKustomization, "flux-kustomization", "", "Kustomization to reconcile (default: the OCIRepository's name; \"-\" to skip)")
	f.cluster.bind(cmd.Flags())
	return cmd
}

// clusterSteps adds the reconcile and watch steps when asked for.
func (f *releaseFlags) clusterSteps(r *release.Release) error {
	if !f.reconcile && !f.watch {
		return nil
	}
	kube, dyn, ns, err := f.cluster.clients()
	if err != nil {
		return err
	}
	if f.reconcile {
		src := f.fluxSource
		if src == "" {
			src = f.app
		}
		if src == "" {
			return errors.New("--reconcile: name the OCIRepository with --flux-source or --app")
		}
		r.Reconciler = &release.FluxReconciler{Dynamic: dyn, Targets: cluster.FluxTargets(ns, src, f.fluxKustomization), Timeout: f.cluster.timeout}
	}
	if f.watch {
		if f.app == "" {
			return errors.New("--watch: --app is required")
		}
		r.Watcher = &release.RolloutWatcher{Kube: kube, Namespace: ns, App: f.app, Timeout: f.cluster.timeout}
	}
	return nil
}

func (f *releaseFlags) bindAll(cmd *cobra.Command) {
	tagFlags(cmd, &f.tag)
	cmd.Flags().StringVar(&f.app, "app", env("CI_PROJECT_NAME"), "app name ($CI_PROJECT_NAME)")
	f.bindImages(cmd.Flags())
	f.bindRegistry(cmd.Flags())
	f.bindCommit(cmd.Flags())
	f.bindArtifact(cmd.Flags())
}

// newStepCmd makes a command running one release step alone.
func newStepCmd(use, short string, bind func(*releaseFlags, *pflag.FlagSet), wire func(*releaseFlags, *release.Release) error) *cobra.Command {
	f := &releaseFlags{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := &release.Release{ManifestsPath: f.path}
			if err := wire(f, r); err != nil {
				return err
			}
			return runRelease(cmd, f, r)
		},
	}
	tagFlags(cmd, &f.tag)
	cmd.Flags().StringVar(&f.app, "app", env("CI_PROJECT_NAME"), "app name ($CI_PROJECT_NAME)")
	bind(f, cmd.Flags())
	return cmd
}

func newImagesCmd() *cobra.Command {
	return newStepCmd("images", "Build the service once and push service and migration images with the same tag",
		func(f *releaseFlags, fs *pflag.FlagSet) { f.bindImages(fs); f.bindRegistry(fs) },
		func(f *releaseFlags, r *release.Release) (err error) { r.Images, err = f.images(); return err })
}

func newCommitCmd() *cobra.Command {
	return newStepCmd("commit", "Set IMAGE_TAG on the branch, commit [skip ci] and push (retries, never moves the tag backwards)",
		func(f *releaseFlags, fs *pflag.FlagSet) { f.bindCommit(fs) },
		func(f *releaseFlags, r *release.Release) (err error) { r.Committer, err = f.committer(); return err })
}

func newPushArtifactCmd() *cobra.Command {
	return newStepCmd("push-artifact", "Push the manifests folder as a Flux OCI artifact tagged with the release tag",
		func(f *releaseFlags, fs *pflag.FlagSet) {
			f.bindArtifact(fs)
			fs.StringVar(&f.image, "image", env("CI_REGISTRY_IMAGE"), "service image repository, for the default --artifact-repo")
			f.bindRegistry(fs)
			fs.StringVar(&f.revision, "revision", "", "revision annotation, e.g. main@sha1:<commit> (default from $CI_COMMIT_BRANCH/$CI_COMMIT_SHA)")
		},
		func(f *releaseFlags, r *release.Release) error {
			a, err := f.artifacts()
			if err != nil {
				return err
			}
			rev := f.revision
			if rev == "" && env("CI_COMMIT_SHA") != "" {
				rev = artifact.Revision(env("CI_COMMIT_BRANCH"), env("CI_COMMIT_SHA"))
			}
			if rev != "" {
				a.Options = append(a.Options, artifact.WithRevision(rev))
			}
			r.Artifacts = a
			return nil
		})
}
