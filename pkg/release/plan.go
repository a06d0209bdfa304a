package release

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/naming"
	"github.com/tandem-ci/tandem/pkg/tag"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// Defaults every door shares (CLI, Dagger module, GitLab component, demo, tandem init).
const (
	DefaultManifestsPath = "k8s"
	DefaultFluxNamespace = manifest.DefaultFluxNamespace
	DefaultGitUsername   = "tandem"
	DefaultAuthorName    = "tandem"
	DefaultAuthorEmail   = "tandem@localhost"
)

// ErrInvalidConfig marks a release configuration that cannot be planned.
var ErrInvalidConfig = errors.New("invalid release configuration")

// Config is what a door into a release fills: the CLI from flags and GitLab's
// predefined variables, the Dagger module from its arguments, the GitLab component from
// its inputs. Resolve derives every name from it in one place.
type Config struct {
	App string
	// Registry is the project's registry path, e.g. $CI_REGISTRY_IMAGE: every default
	// repository lives below it.
	Registry string
	// Overrides, full repositories without tag; empty: derived (see Resolve).
	ServiceRepository   string
	MigrationRepository string
	ArtifactRepository  string

	// ManifestsPath is the kustomization folder inside the repository (default k8s);
	// VariablesFile the file holding IMAGE_TAG (default <ManifestsPath>/deployment-variables.yaml).
	ManifestsPath string
	VariablesFile string

	Tag tag.Config

	RepoURL string // git repository the bump is pushed to; credentials in it are moved out
	Branch  string
	// DefaultBranch is the project's default branch ($CI_DEFAULT_BRANCH): without
	// ReleaseBranch, only it is released, so a feature branch never pushes the artifact
	// Flux follows.
	DefaultBranch string
	// ReleaseBranch names the branch released on purpose (overrides DefaultBranch).
	ReleaseBranch    string
	GitUsername      string // default "tandem" (deploy tokens need their own username)
	GitToken         string //nolint:gosec // a credential, never printed
	AuthorName       string
	AuthorEmail      string
	Message          string // commit message template over .App .Tag .Old
	PushOptionCISkip bool
	SourceURL        string   // artifact source annotation; default RepoURL, credentials stripped
	ExtraTags        []string // further tags of the artifact, e.g. latest

	RegistryUsername string
	RegistryPassword string //nolint:gosec // a credential, never printed

	// Prebuilt: the images were built elsewhere; the release checks both exist.
	Prebuilt bool

	FluxNamespace     string // default flux-system
	FluxSource        string // OCIRepository; default App
	FluxKustomization string // default FluxSource; "-" for none

	// Rollback makes the release a rollback: Tag is the new tag, whose images are the
	// target's (tagged registry-side, nothing built) once the target is proved to run on
	// the live schema. RollbackTo names the target; empty: the release before the live one.
	Rollback   bool
	RollbackTo string

	// DeployFreeze: a deploy freeze window is open (GitLab sets $CI_DEPLOY_FREEZE): a
	// release is refused before anything is built or pushed. A rollback is not.
	DeployFreeze bool
}

// Plan is a resolved, validated Config: every name a release uses, decided before
// anything is pushed. Credentials are kept out of its JSON form.
type Plan struct {
	Tag       string     `json:"tag"`
	TagSource tag.Source `json:"tagSource"`
	App       string     `json:"app"`
	JobName   string     `json:"jobName"`

	ServiceRepository   string `json:"serviceRepository"`
	MigrationRepository string `json:"migrationRepository"`
	ArtifactRepository  string `json:"artifactRepository"`
	ServiceImage        string `json:"serviceImage"`   // repository:tag
	MigrationImage      string `json:"migrationImage"` // repository:tag
	ArtifactURL         string `json:"artifactURL"`    // oci://repository:tag
	Prebuilt            bool   `json:"prebuilt,omitempty"`

	ManifestsPath string `json:"manifestsPath"`
	VariablesFile string `json:"variablesFile"`

	RepoURL          string   `json:"repoURL"` // without credentials
	Branch           string   `json:"branch"`
	GitUsername      string   `json:"gitUsername"`
	AuthorName       string   `json:"authorName"`
	AuthorEmail      string   `json:"authorEmail"`
	Message          string   `json:"message"`
	PushOptionCISkip bool     `json:"pushOptionCISkip,omitempty"`
	Source           string   `json:"source"` // artifact annotation, without credentials
	ExtraTags        []string `json:"extraTags,omitempty"`

	RegistryUsername string `json:"registryUsername,omitempty"`

	FluxNamespace     string `json:"fluxNamespace"`
	FluxSource        string `json:"fluxSource"`
	FluxKustomization string `json:"fluxKustomization,omitempty"`

	Rollback   bool   `json:"rollback,omitempty"`
	RollbackTo string `json:"rollbackTo,omitempty"` // empty: the release before the live one

	// Steps are the steps the plan was resolved for (Build wires those).
	Steps []string `json:"-"`

	gitToken         string
	registryPassword string
}

// GitToken is the token the commit is pushed with.
func (p Plan) GitToken() string { return p.gitToken }

// RegistryPassword is the password given for the registry (empty: other credential sources).
func (p Plan) RegistryPassword() string { return p.registryPassword }

// RegistryCredentials are the explicit registry credentials of the plan, for image.Keychain.
func (p Plan) RegistryCredentials() image.Credentials {
	return image.Credentials{Username: p.RegistryUsername, Password: p.registryPassword}
}

// Resolve validates cfg for a whole release (images, commit, artifact) and derives the
// plan. Every problem is reported at once, naming the input, so a release never pushes
// an image before finding out it cannot commit.
func Resolve(cfg Config) (Plan, error) {
	return ResolveSteps(cfg, StepImages, StepCommit, StepArtifact)
}

// ResolveSteps is Resolve for a release running only steps (e.g. `tandem commit`): the
// inputs other steps need may be missing. Names are derived the same way.
func ResolveSteps(cfg Config, steps ...string) (Plan, error) {
	var errs []FieldError
	// bad records a problem of field (a Config field's name), for the door to name.
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	needs := func(step string) bool { return slices.Contains(steps, step) }
	// A status look names no new release: it reads the tag the branch holds.
	statusOnly := len(steps) == 1 && steps[0] == StepStatus

	p := Plan{Steps: steps, App: cfg.App, Prebuilt: cfg.Prebuilt, Branch: cfg.Branch, PushOptionCISkip: cfg.PushOptionCISkip,
		RegistryUsername: cfg.RegistryUsername, registryPassword: cfg.RegistryPassword}

	// The repository first: the app name defaults to its name.
	if cfg.RepoURL != "" {
		u, err := url.Parse(cfg.RepoURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			bad("RepoURL", "repository URL %q: want https://host/group/project.git (scp-style git@host:path is not supported)", gitops.StripCredentials(cfg.RepoURL))
		} else {
			p.GitUsername, p.gitToken = cfg.GitUsername, cfg.GitToken
			if u.User != nil {
				if p.GitUsername == "" {
					p.GitUsername = u.User.Username()
				}
				if pw, ok := u.User.Password(); ok && p.gitToken == "" {
					p.gitToken = pw
				}
			}
			p.RepoURL = gitops.StripCredentials(cfg.RepoURL)
			if p.App == "" {
				p.App = strings.TrimSuffix(path.Base(u.Path), ".git")
			}
		}
	} else if needs(StepCommit) || needs(StepStatus) {
		bad("RepoURL", "repository URL: required")
	}
	p.GitUsername = or(p.GitUsername, DefaultGitUsername)

	t, err := tag.Compute(cfg.Tag)
	if err != nil && !statusOnly {
		bad("Tag", "tag: %v", err)
	} else if err == nil {
		p.Tag, p.TagSource = t.Tag, t.Source
	}
	if p.App == "" {
		// Pushing an artifact to a named repository needs no app; everything else does.
		if needs(StepImages) || needs(StepPreflight) || needs(StepCommit) || needs(StepStatus) || cfg.ArtifactRepository == "" {
			bad("App", "app: required")
		}
	} else if p.Tag != "" {
		if p.JobName, err = tag.JobName(p.App, p.Tag); err != nil {
			bad("App", "app/tag: %v", err)
		}
	}

	p.ServiceRepository, p.MigrationRepository, p.ArtifactRepository = naming.Repositories(cfg.Registry, p.App, cfg.ServiceRepository, cfg.MigrationRepository, cfg.ArtifactRepository)
	type repo struct{ name, field, value string }
	var repos []repo
	if needs(StepImages) || needs(StepPreflight) || needs(StepStatus) {
		repos = append(repos, repo{"ServiceRepository", "service repository", p.ServiceRepository}, repo{"MigrationRepository", "migration repository", p.MigrationRepository})
	}
	if needs(StepArtifact) || needs(StepStatus) {
		repos = append(repos, repo{"ArtifactRepository", "artifact repository", p.ArtifactRepository})
	}
	for _, r := range repos {
		if r.value == "" {
			bad("Registry", "%s: required: give the registry path and the app", r.field)
		} else if err := naming.ValidateRepository(r.value); err != nil {
			bad(r.name, "%s %q: %v", r.field, r.value, err)
		}
	}
	if needs(StepArtifact) {
		for _, t := range cfg.ExtraTags {
			if err := artifact.ValidateTag(t); err != nil {
				bad("ExtraTags", "extra tag %q: %v", t, err)
			}
		}
		p.ExtraTags = cfg.ExtraTags
	}
	if needs(StepCommit) || needs(StepArtifact) {
		// The artifact goes to the repository Flux follows, under a tag newer than the
		// live one: a feature branch's release would become the cluster's.
		switch {
		case cfg.Branch == "":
		case cfg.ReleaseBranch != "" && cfg.Branch != cfg.ReleaseBranch:
			bad("ReleaseBranch", "branch %q: the release branch is %q: release from it, or name this branch the release branch", cfg.Branch, cfg.ReleaseBranch)
		case cfg.ReleaseBranch == "" && cfg.DefaultBranch != "" && cfg.Branch != cfg.DefaultBranch:
			bad("ReleaseBranch", "branch %q: not the default branch %q: its release would become the newest artifact Flux deploys; release from %q, or name %s the release branch to release it on purpose", cfg.Branch, cfg.DefaultBranch, cfg.DefaultBranch, cfg.Branch)
		}
	}
	if needs(StepImages) && p.ServiceRepository != "" && p.ServiceRepository == p.MigrationRepository {
		bad("MigrationRepository", "migration repository %q: must differ from the service repository", p.MigrationRepository)
	}
	if p.Tag != "" {
		if p.ServiceRepository != "" {
			p.ServiceImage = p.ServiceRepository + ":" + p.Tag
		}
		if p.MigrationRepository != "" {
			p.MigrationImage = p.MigrationRepository + ":" + p.Tag
		}
		if p.ArtifactRepository != "" {
			p.ArtifactURL = artifact.URL(p.ArtifactRepository, p.Tag)
		}
	}

	// "." is the repository root, which is not the same as no path (the default).
	p.ManifestsPath = DefaultManifestsPath
	if cfg.ManifestsPath != "" {
		p.ManifestsPath = or(cleanRel(cfg.ManifestsPath), ".")
	}
	p.VariablesFile = cleanRel(cfg.VariablesFile)
	if p.VariablesFile == "" {
		p.VariablesFile = path.Join(p.ManifestsPath, path.Base(variables.DefaultFile))
	}
	if needs(StepCommit) || needs(StepStatus) {
		for _, f := range []struct{ name, field, value string }{{"ManifestsPath", "manifests path", p.ManifestsPath}, {"VariablesFile", "variables file", p.VariablesFile}} {
			if path.IsAbs(f.value) || f.value == ".." || strings.HasPrefix(f.value, "../") {
				bad(f.name, "%s %q: must be a path inside the repository (relative, no ..)", f.field, f.value)
			}
		}
		if cfg.Branch == "" {
			bad("Branch", "branch: required")
		}
	}
	p.AuthorName, p.AuthorEmail = or(cfg.AuthorName, DefaultAuthorName), or(cfg.AuthorEmail, DefaultAuthorEmail)
	p.Message = or(cfg.Message, gitops.DefaultMessage)
	// Rendered with sample values, so a broken template fails before anything is pushed.
	if _, err := gitops.RenderMessage(p.Message, "app", "v1.0.0", "v0.1.0"); err != nil && needs(StepCommit) {
		bad("Message", "commit message: %v", err)
	}
	if src := or(cfg.SourceURL, cfg.RepoURL); src != "" {
		p.Source = gitops.StripCredentials(src)
	}

	if cfg.DeployFreeze && !cfg.Rollback && (needs(StepImages) || needs(StepCommit) || needs(StepArtifact)) {
		bad("DeployFreeze", "deploy freeze: a deploy freeze window is open, so nothing is released; run the pipeline again once it ends (a rollback still runs)")
	}
	if cfg.Rollback {
		p.Rollback, p.RollbackTo = true, cfg.RollbackTo
		if cfg.RollbackTo != "" {
			if err := tag.Validate(cfg.RollbackTo); err != nil {
				bad("RollbackTo", "rollback target: %v", err)
			} else if cfg.RollbackTo == p.Tag {
				bad("RollbackTo", "rollback target %s: it is the new tag; give the release to go back to", cfg.RollbackTo)
			}
		}
		if cfg.Prebuilt {
			bad("Prebuilt", "prebuilt: a rollback builds nothing and finds the target's images itself")
		}
	} else if cfg.RollbackTo != "" {
		bad("RollbackTo", "rollback target %s: only a rollback has one", cfg.RollbackTo)
	}

	p.FluxNamespace = or(cfg.FluxNamespace, DefaultFluxNamespace)
	p.FluxSource = or(cfg.FluxSource, p.App)
	p.FluxKustomization = or(cfg.FluxKustomization, p.FluxSource)
	if p.FluxKustomization == NoKustomization {
		p.FluxKustomization = ""
	}
	if len(errs) > 0 {
		return p, &ConfigError{Problems: errs}
	}
	return p, nil
}

// FieldError is one problem of a Config: the field (its Go name in Config) and what is
// wrong, in the library's words. Doors say how their users give the field (ForDoor).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ConfigError is every problem of a Config at once; errors.Is(err, ErrInvalidConfig).
type ConfigError struct {
	Problems []FieldError
	// given says, per field, how a door's user gives it (see ForDoor).
	given map[string]string
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Message
		if g := e.given[p.Field]; g != "" {
			lines[i] += " (" + g + ")"
		}
	}
	return ErrInvalidConfig.Error() + ":\n  " + strings.Join(lines, "\n  ")
}

// Is makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// ForDoor returns err with each problem of a ConfigError followed by how the door's user
// gives the field: given maps a Config field to a door's own words (a flag and its
// variable, a Dagger argument, a component input). Other errors are returned as they are.
func ForDoor(err error, given map[string]string) error {
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	return &ConfigError{Problems: ce.Problems, given: given}
}

// Commit is the gitops configuration of the plan's commit step.
func (p Plan) Commit() gitops.Config {
	return gitops.Config{URL: p.RepoURL, Branch: p.Branch, Username: p.GitUsername, Password: p.gitToken,
		File: p.VariablesFile, Tag: p.Tag, App: p.App, Message: p.Message,
		AuthorName: p.AuthorName, AuthorEmail: p.AuthorEmail, SkipCIPush: p.PushOptionCISkip,
		Folders: []string{p.ManifestsPath}}
}

// FluxTargets are the Flux objects a reconcile asks for.
func (p Plan) FluxTargets() []cluster.Target {
	return cluster.FluxTargets(p.FluxNamespace, p.FluxSource, p.FluxKustomization)
}

// NoKustomization, given as Config.FluxKustomization, reconciles the OCIRepository only.
const NoKustomization = "-"

// FluxTargets are the Flux objects to reconcile for the given names, with the defaults of
// a release: namespace flux-system, the Kustomization named as the source, none with
// NoKustomization. `tandem reconcile` and the Dagger module's reconcile use it.
func FluxTargets(namespace, source, kustomization string) []cluster.Target {
	p := Plan{FluxNamespace: or(namespace, DefaultFluxNamespace), FluxSource: source, FluxKustomization: or(kustomization, source)}
	if p.FluxKustomization == NoKustomization {
		p.FluxKustomization = ""
	}
	return p.FluxTargets()
}

func cleanRel(p string) string {
	if p == "" {
		return ""
	}
	p = path.Clean(strings.ReplaceAll(p, `\`, "/"))
	if p == "." {
		return ""
	}
	return strings.TrimPrefix(p, "./")
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
