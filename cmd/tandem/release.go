package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/status"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// releaseFlags gathers every flag of the release commands; each command binds the
// groups it needs. config maps them (and GitLab's variables) onto release.Config: the
// CLI decides no name itself, release.Resolve does, as for every other door.
type releaseFlags struct {
	tag      tag.Config
	app      string
	registry string
	insecure bool
	// images
	source, pkg, image, migrationImage string
	baseImage                          string
	regUser, regPassword               string
	prebuilt                           bool
	// commit
	repoURL, branch, gitUser     string
	releaseBranch                string
	file, message, author, email string
	ciSkipOption                 bool
	checkout                     string
	// artifact
	artifactRepo, path, artifactSource string
	revision                           string
	ignore, extraTags                  []string
	// release
	dryRun, pushSuperseded bool
	// rollback
	rollback     bool
	rollbackTo   string
	historyDepth int
	pre          preflightFlags
	// progressOut receives progress lines in text output (nil for JSON).
	progressOut io.Writer
	// cluster steps
	cluster                       clusterFlags
	reconcile, watch              bool
	fluxNamespace                 string
	fluxSource, fluxKustomization string
}

func (f *releaseFlags) bindNames(fs *pflag.FlagSet) {
	fs.StringVar(&f.app, "app", env("CI_PROJECT_NAME"), "app name: <registry>/<app> images, <app>-migration-<tag> Job ($CI_PROJECT_NAME; default: the repository's name)")
	fs.StringVar(&f.registry, "registry", env("CI_REGISTRY_IMAGE"), "the project's registry path; every default repository is below it ($CI_REGISTRY_IMAGE)")
}

func (f *releaseFlags) bindImages(fs *pflag.FlagSet) {
	fs.StringVar(&f.source, "source", ".", "Go module folder of the service")
	fs.StringVar(&f.pkg, "package", ".", "Go package of the service binary, relative to --source")
	fs.StringVar(&f.image, "image", "", "service image repository (default <registry>/<app>)")
	fs.StringVar(&f.migrationImage, "migration-image", "", "migration image repository (default <image>-migration)")
	fs.StringVar(&f.baseImage, "base-image", "", "base image for the binary, e.g. gcr.io/distroless/static (default: empty, works offline)")
	fs.BoolVar(&f.prebuilt, "prebuilt", false, "the images were built elsewhere (kaniko, Docker, Dagger): check both <repo>:<tag> exist instead of building")
}

func (f *releaseFlags) bindRegistry(fs *pflag.FlagSet) {
	fs.StringVar(&f.regUser, "registry-username", env("TANDEM_REGISTRY_USERNAME", "CI_REGISTRY_USER"), "registry user ($TANDEM_REGISTRY_USERNAME, $CI_REGISTRY_USER; none: the Docker config)")
	fs.StringVar(&f.regPassword, "registry-password", "", "registry password (prefer $TANDEM_REGISTRY_PASSWORD, else $CI_REGISTRY_PASSWORD: flags show up in process lists)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow plain-HTTP registries")
}

func (f *releaseFlags) bindCommit(fs *pflag.FlagSet) {
	fs.StringVar(&f.repoURL, "repo-url", "", "git repository to push to (default $CI_PROJECT_URL.git, else the origin of --checkout)")
	fs.StringVar(&f.checkout, "checkout", ".", "local checkout whose origin and branch are the defaults outside GitLab (may be shallow and detached)")
	fs.StringVar(&f.branch, "branch", env("CI_COMMIT_BRANCH"), "branch to commit to ($CI_COMMIT_BRANCH)")
	fs.StringVar(&f.gitUser, "git-username", env("TANDEM_GIT_USERNAME"), "git user for the token; deploy tokens need theirs ($TANDEM_GIT_USERNAME; default tandem)")
	fs.StringVar(&f.file, "file", "", "file holding IMAGE_TAG inside the repository (default <path>/deployment-variables.yaml)")
	fs.StringVar(&f.message, "message", gitops.DefaultMessage, "commit message template over .App .Tag .Old")
	fs.StringVar(&f.author, "author-name", env("GITLAB_USER_NAME"), "commit author ($GITLAB_USER_NAME; default tandem)")
	fs.StringVar(&f.email, "author-email", env("GITLAB_USER_EMAIL"), "commit author email ($GITLAB_USER_EMAIL)")
	fs.BoolVar(&f.ciSkipOption, "push-option-ci-skip", false, "also send the git push option ci.skip")
	f.bindReleaseBranch(fs)
}

func (f *releaseFlags) bindArtifact(fs *pflag.FlagSet, pathUsage string) {
	fs.StringVar(&f.artifactRepo, "artifact-repo", "", "artifact repository, host/path (default <image>/manifests)")
	fs.StringVar(&f.path, "path", release.DefaultManifestsPath, pathUsage)
	fs.StringVar(&f.artifactSource, "artifact-source", "", "source annotation (default: the repository URL, without credentials)")
	fs.StringSliceVar(&f.ignore, "ignore", nil, "extra ignore patterns (.gitignore syntax) besides flux's defaults")
	fs.StringSliceVar(&f.extraTags, "extra-tag", nil, "also tag the artifact, e.g. latest")
}

func (f *releaseFlags) bindReleaseBranch(fs *pflag.FlagSet) {
	fs.StringVar(&f.releaseBranch, "release-branch", "", "the branch released on purpose (default: only $CI_DEFAULT_BRANCH, when set, is released)")
}

// repo returns the repository URL and branch: the flags, else GitLab's
// $CI_PROJECT_URL.git, else the origin of the checkout.
func (f *releaseFlags) repo() (string, string, error) {
	url, branch := f.repoURL, f.branch
	if url == "" {
		url = ciProjectRepo()
	}
	if url != "" {
		return url, branch, nil
	}
	u, b, err := gitops.FromCheckout(f.checkout, branch)
	if err != nil {
		return "", "", fmt.Errorf("repository URL: %w (or pass --repo-url and --branch)", err)
	}
	return u, b, nil
}

// config maps flags and environment onto the release configuration.
func (f *releaseFlags) config(needRepo bool) (release.Config, error) {
	cfg := release.Config{
		App: f.app, Registry: f.registry, ServiceRepository: f.image, MigrationRepository: f.migrationImage, ArtifactRepository: f.artifactRepo,
		ManifestsPath: f.path, VariablesFile: f.file, Tag: f.tag,
		Branch: firstOf(f.branch, env("CI_COMMIT_BRANCH")), DefaultBranch: env("CI_DEFAULT_BRANCH"), ReleaseBranch: f.releaseBranch, ExtraTags: f.extraTags,
		GitUsername: f.gitUser, GitToken: env("TANDEM_GIT_TOKEN"),
		AuthorName: f.author, AuthorEmail: f.email, Message: f.message, PushOptionCISkip: f.ciSkipOption, SourceURL: firstOf(f.artifactSource, ciProjectRepo()),
		RegistryUsername: f.regUser, RegistryPassword: f.registryPassword(), Prebuilt: f.prebuilt,
		FluxNamespace: f.fluxNamespace, FluxSource: f.fluxSource, FluxKustomization: f.fluxKustomization,
		Rollback: f.rollback, RollbackTo: f.rollbackTo, DeployFreeze: env("CI_DEPLOY_FREEZE") != "",
	}
	if needRepo {
		var err error
		if cfg.RepoURL, cfg.Branch, err = f.repo(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// registryPassword is --registry-password, else $TANDEM_REGISTRY_PASSWORD.
func (f *releaseFlags) registryPassword() string {
	if f.regPassword != "" {
		return f.regPassword
	}
	return env("TANDEM_REGISTRY_PASSWORD", "CI_REGISTRY_PASSWORD")
}

// configFlags says, per release.Config field, how a CLI user gives it.
var configFlags = map[string]string{
	"App":                 "--app, or $CI_PROJECT_NAME",
	"Registry":            "--registry, or $CI_REGISTRY_IMAGE",
	"ServiceRepository":   "--image",
	"MigrationRepository": "--migration-image",
	"ArtifactRepository":  "--artifact-repo",
	"ManifestsPath":       "--path",
	"VariablesFile":       "--file",
	"Tag":                 "pass --tag, set CI_PIPELINE_ID, or run inside a git repository",
	"RepoURL":             "--repo-url, or $CI_PROJECT_URL, or a checkout with an origin",
	"Branch":              "--branch, or $CI_COMMIT_BRANCH",
	"ReleaseBranch":       "--release-branch; the default branch is $CI_DEFAULT_BRANCH",
	"Message":             "--message",
	"ExtraTags":           "--extra-tag",
	"RollbackTo":          "--to, or $TANDEM_ROLLBACK_TO",
	"DeployFreeze":        "$CI_DEPLOY_FREEZE is set: GitLab sets it during a deploy freeze",
}

// setup maps the flags onto what the release needs besides its plan; release.Build
// wires the steps.
func (f *releaseFlags) setup(p release.Plan) (release.Setup, error) {
	s := release.Setup{Registry: p.Registry(f.insecure), Source: f.source, Package: f.pkg, BaseImage: f.baseImage,
		Checkout: f.checkout, Ignore: f.ignore, Revision: f.revision, Reconcile: f.reconcile, Watch: f.watch,
		Timeout: f.cluster.timeout, PushSuperseded: f.pushSuperseded, HistoryDepth: f.historyDepth}
	if s.Revision == "" && env("CI_COMMIT_SHA") != "" {
		s.Revision = artifact.Revision(env("CI_COMMIT_BRANCH"), env("CI_COMMIT_SHA"))
	}
	if f.pre.enabled {
		s.Preflight = f.pre.options(f.progressOut)
	}
	if f.reconcile || f.watch {
		var err error
		if s.Kube, s.Dynamic, s.Namespace, err = f.cluster.clients(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// build resolves the plan for steps (all of a release when none) and wires it.
func (f *releaseFlags) build(cmd *cobra.Command, needRepo bool, steps ...string) (*release.Release, error) {
	f.setProgress(cmd)
	if err := checkTimeout(f.cluster.timeout); err != nil {
		return nil, err
	}
	cfg, err := f.config(needRepo)
	if err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		steps = []string{release.StepImages, release.StepCommit, release.StepArtifact}
	}
	p, err := release.ResolveSteps(cfg, steps...)
	if err != nil {
		return nil, release.ForDoor(err, configFlags)
	}
	s, err := f.setup(p)
	if err != nil {
		return nil, err
	}
	return release.Build(cmd.Context(), p, s)
}

// verdict looks at what is live after a watched release (tandem status).
func (f *releaseFlags) verdict(cmd *cobra.Command, p release.Plan) (status.Report, error) {
	cfg := status.Config{Plan: p, Registry: p.Registry(f.insecure)}
	var err error
	if cfg.Kube, cfg.Dynamic, cfg.Namespace, err = f.cluster.clients(); err != nil {
		return status.Report{}, err
	}
	return status.Look(cmd.Context(), cfg)
}

// setProgress sends progress lines to the command's output unless it prints JSON.
func (f *releaseFlags) setProgress(cmd *cobra.Command) {
	if format, err := outputFormat(cmd); err == nil && format == "text" {
		f.progressOut = cmd.OutOrStdout()
	}
}

// runRelease runs r (or prints its plan) with one progress line a step, or the result as JSON.
func runRelease(cmd *cobra.Command, f *releaseFlags, r *release.Release) error {
	format, err := outputFormat(cmd)
	if err != nil {
		return err
	}
	if format == "text" {
		what := "release"
		if r.Plan.Rollback {
			what = "rollback"
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s (tag from %s)\n", what, r.Plan.Tag, r.Plan.TagSource)
		r.Progress = func(s release.Step) {
			fmt.Fprintf(cmd.OutOrStdout(), "  %-8s %-9s %7s  %s\n", s.Name, s.Status, s.Duration.Round(time.Millisecond), s.Detail)
		}
	}
	var res release.Result
	switch {
	case f.dryRun && r.ProveFirst:
		res, err = r.Rehearse(cmd.Context())
	case f.dryRun:
		res = r.Planned()
	default:
		res, err = r.Run(cmd.Context())
	}
	// With --watch the job ends with the cluster's verdict (tandem status), which -o
	// json carries for other tools to post.
	var verdict *status.Report
	if f.watch && !f.dryRun && r.Watcher != nil {
		if rep, serr := f.verdict(cmd, r.Plan); serr == nil {
			verdict = &rep
		}
	}
	if err != nil {
		if format != "json" {
			if verdict != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "verdict: %s\n", verdict.Verdict)
			}
			return err
		}
		// What ran (steps, pre-flight phases with the programs' output) and why it failed.
		msg := strings.TrimSpace(err.Error())
		emit(cmd, struct {
			release.Result
			Status *status.Report `json:"status,omitempty"`
			Error  string         `json:"error"`
		}{res, verdict, msg}, nil)
		fmt.Fprintln(cmd.ErrOrStderr(), "tandem:", msg)
		return &exitError{msg: msg}
	}
	var out any = res
	if verdict != nil {
		out = struct {
			release.Result
			Status *status.Report `json:"status"`
		}{res, verdict}
	}
	return emit(cmd, out, func(w io.Writer) {
		defer func() {
			if verdict != nil {
				fmt.Fprintf(w, "verdict: %s\n", verdict.Verdict)
			}
		}()
		for _, s := range res.Steps {
			if s.Status == release.StatusPlanned {
				fmt.Fprintf(w, "  %-8s planned    %s\n", s.Name, s.Detail)
			}
		}
		switch {
		case res.Superseded && res.Artifact != nil:
			fmt.Fprintln(w, "superseded: a newer tag is already on the branch; nothing committed, the artifact pushed anyway (--push-superseded)")
		case res.Superseded && res.Images != nil:
			fmt.Fprintln(w, "superseded: a newer tag is already on the branch; nothing committed or pushed to git, no artifact")
		case res.Superseded:
			fmt.Fprintln(w, "superseded: a newer tag is already on the branch; nothing built, committed or pushed")
		}
		if rb := res.Rollback; rb != nil && !f.dryRun {
			fmt.Fprintf(w, "rolled back: %s runs %s's images (was %s)\n", res.Tag, rb.Target, rb.Live)
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
		Short: "Build (or find) both images, commit IMAGE_TAG [skip ci], push the manifests artifact",
		Args:  cobra.NoArgs,
		RunE:  f.runWhole,
	}
	f.bindRelease(cmd)
	return cmd
}

// runWhole builds the whole release (or rollback) the flags describe and runs it.
func (f *releaseFlags) runWhole(cmd *cobra.Command, _ []string) error {
	r, err := f.build(cmd, true)
	if err != nil {
		return err
	}
	return runRelease(cmd, f, r)
}

// bindFlux binds the flags of the steps after the artifact: reconcile, watch, and the
// Flux objects and cluster they talk to.
func (f *releaseFlags) bindFlux(fs *pflag.FlagSet) {
	fs.BoolVar(&f.reconcile, "reconcile", false, "then ask Flux to reconcile (see tandem reconcile)")
	fs.BoolVar(&f.watch, "watch", false, "then follow the migration Job and the rollout in --namespace (see tandem watch)")
	fs.StringVar(&f.fluxNamespace, "flux-namespace", release.DefaultFluxNamespace, "namespace of the Flux OCIRepository and Kustomization")
	fs.StringVar(&f.fluxSource, "flux-source", "", "OCIRepository to reconcile (default: --app)")
	fs.StringVar(&f.fluxKustomization, "flux-kustomization", "", "Kustomization to reconcile (default: the OCIRepository's name; \"-\" to skip)")
	f.cluster.bind(fs)
}

// bindRelease binds every flag of `tandem release`.
func (f *releaseFlags) bindRelease(cmd *cobra.Command) {
	tagFlags(cmd, &f.tag)
	fs := cmd.Flags()
	f.bindNames(fs)
	f.bindImages(fs)
	f.bindRegistry(fs)
	f.bindCommit(fs)
	f.bindArtifact(fs, "manifests folder inside the repository")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate everything and print the plan; change nothing")
	fs.BoolVar(&f.pushSuperseded, "push-superseded", false, "push the artifact even when a newer tag is already on the branch")
	fs.BoolVar(&f.pre.enabled, "preflight", false, "after the images, prove the migration on a throwaway database before anything is committed (see tandem preflight)")
	f.pre.bind(fs)
	f.bindFlux(fs)
}

// newStepCmd makes a command running one release step alone.
func newStepCmd(use, short, step string, needRepo bool, bind func(*releaseFlags, *pflag.FlagSet)) *cobra.Command {
	f := &releaseFlags{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := f.build(cmd, needRepo, step)
			if err != nil {
				return err
			}
			return runRelease(cmd, f, r)
		},
	}
	tagFlags(cmd, &f.tag)
	f.bindNames(cmd.Flags())
	bind(f, cmd.Flags())
	cmd.Flags().DurationVar(&f.cluster.timeout, "timeout", defaultTimeout, "deadline of the step (it talks to one server)")
	return cmd
}

func newImagesCmd() *cobra.Command {
	return newStepCmd("images", "Build the service once and push service and migration images with the same tag", release.StepImages, false,
		func(f *releaseFlags, fs *pflag.FlagSet) { f.bindImages(fs); f.bindRegistry(fs) })
}

func newCommitCmd() *cobra.Command {
	return newStepCmd("commit", "Set IMAGE_TAG on the branch, commit [skip ci] and push (retries, never moves the tag backwards)", release.StepCommit, true,
		func(f *releaseFlags, fs *pflag.FlagSet) {
			f.bindCommit(fs)
			fs.StringVar(&f.path, "path", release.DefaultManifestsPath, "manifests folder inside the repository (holds deployment-variables.yaml unless --file)")
		})
}

func newPushArtifactCmd() *cobra.Command {
	return newStepCmd("push-artifact", "Push the manifests folder as a Flux OCI artifact tagged with the release tag", release.StepArtifact, false,
		func(f *releaseFlags, fs *pflag.FlagSet) {
			f.bindArtifact(fs, "manifests folder to push")
			fs.StringVar(&f.image, "image", "", "service image repository, for the default --artifact-repo (default <registry>/<app>)")
			f.bindRegistry(fs)
			f.bindReleaseBranch(fs)
			fs.StringVar(&f.revision, "revision", "", "revision annotation, e.g. main@sha1:<commit> (default from $CI_COMMIT_BRANCH/$CI_COMMIT_SHA, else the checkout's HEAD)")
		})
}

// ciProjectRepo is GitLab's $CI_PROJECT_URL.git, or empty outside GitLab.
func ciProjectRepo() string {
	if u := env("CI_PROJECT_URL"); u != "" {
		return u + ".git"
	}
	return ""
}
