// Package doors maps the Dagger module's arguments onto tandem's release configuration.
// It imports nothing of Dagger, so its tests run without an engine.
package doors

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// ReleaseArgs are the Release function's arguments, with the names dagger gives them.
type ReleaseArgs struct {
	App                 string `json:"app"`
	Registry            string `json:"registry"`
	RepoUrl             string `json:"repoUrl"`
	Branch              string `json:"branch"`
	Tag                 string `json:"tag"`
	PipelineId          string `json:"pipelineId"`
	CommitSha           string `json:"commitSha"`
	TagFormat           string `json:"tagFormat"`
	RegistryUsername    string `json:"registryUsername"`
	ServiceRepository   string `json:"serviceRepository"`
	MigrationRepository string `json:"migrationRepository"`
	ArtifactRepository  string `json:"artifactRepository"`
	Path                string `json:"path"`
	File                string `json:"file"`
	GitUsername         string `json:"gitUsername"`
	AuthorName          string `json:"authorName"`
	AuthorEmail         string `json:"authorEmail"`
	FluxNamespace       string `json:"fluxNamespace"`
	FluxName            string `json:"fluxName"`
	FluxKustomization   string `json:"fluxKustomization"`
	Prebuilt            bool   `json:"prebuilt"`
	ReleaseBranch       string `json:"releaseBranch"`
	DeployFreeze        bool   `json:"deployFreeze"`
	// Rollback only: the job ID of .JobID tag formats, and the target.
	JobId string `json:"jobId"`
	To    string `json:"to"`
}

// Fields says, per release.Config field, which argument of the module gives it.
var Fields = map[string]string{
	"App":                 "argument app",
	"Registry":            "argument registry",
	"ServiceRepository":   "argument serviceRepository",
	"MigrationRepository": "argument migrationRepository",
	"ArtifactRepository":  "argument artifactRepository (push-artifact: repository)",
	"ManifestsPath":       "argument path",
	"VariablesFile":       "argument file",
	"Tag":                 "argument tag, pipelineId or commitSha",
	"RepoURL":             "argument repoUrl",
	"Branch":              "argument branch",
	"ReleaseBranch":       "argument releaseBranch",
	"ExtraTags":           "argument extraTags",
	"RollbackTo":          "argument to",
	"DeployFreeze":        "argument deployFreeze (GitLab's $CI_DEPLOY_FREEZE)",
}

// Config is the Dagger door's mapping onto the release configuration every door shares:
// a plain function, tested without an engine against the same scenarios as the CLI's
// flags (pkg/release/testdata/doors.json).
func (a ReleaseArgs) Config(gitToken, registryPassword string) release.Config {
	return release.Config{
		App: a.App, Registry: a.Registry,
		ServiceRepository: a.ServiceRepository, MigrationRepository: a.MigrationRepository, ArtifactRepository: a.ArtifactRepository,
		ManifestsPath: a.Path, VariablesFile: a.File,
		Tag:     tag.Config{Explicit: a.Tag, PipelineID: a.PipelineId, JobID: a.JobId, CommitSHA: a.CommitSha, Format: a.TagFormat, Branch: a.Branch},
		RepoURL: a.RepoUrl, Branch: a.Branch, ReleaseBranch: a.ReleaseBranch, GitUsername: a.GitUsername, GitToken: gitToken,
		AuthorName: a.AuthorName, AuthorEmail: a.AuthorEmail,
		RegistryUsername: a.RegistryUsername, RegistryPassword: registryPassword,
		Prebuilt:      a.Prebuilt,
		FluxNamespace: a.FluxNamespace, FluxSource: a.FluxName, FluxKustomization: a.FluxKustomization,
		RollbackTo: a.To, DeployFreeze: a.DeployFreeze,
	}
}

// ExecTailLines is how many lines of a failed exec's output an error carries.
const ExecTailLines = 20

// ExecFailure is the text of an error from a failed container exec: the module's own
// message (the step, e.g. "starting postgres:17-alpine: …") followed by the tail of what
// the program printed (stderr, else stdout). The engine shows a bare exec error as
// "exit code: 1" alone; this text says what failed and why.
func ExecFailure(message, stdout, stderr string) string {
	out, name := strings.TrimSpace(stderr), "stderr"
	if out == "" {
		out, name = strings.TrimSpace(stdout), "stdout"
	}
	if out == "" {
		return message + " (the program printed nothing)"
	}
	lines := strings.Split(out, "\n")
	head := "its " + name + ":"
	if len(lines) > ExecTailLines {
		head = fmt.Sprintf("the last %d lines of its %s:", ExecTailLines, name)
		lines = lines[len(lines)-ExecTailLines:]
	}
	return message + "\n" + head + "\n  " + strings.Join(lines, "\n  ")
}

// ViaEndpoint is repoURL with its host replaced by a service's endpoint (host:port) and
// plain HTTP: the git server a Dagger service tunnels to. The path is kept.
func ViaEndpoint(repoURL, endpoint string) (string, error) {
	u, err := url.Parse(repoURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("repository URL %q: want http(s)://host/group/project.git to reach it through gitService", repoURL)
	}
	u.Scheme, u.Host = "http", endpoint
	return u.String(), nil
}

// RegistryHost is the host (host:port) of a repository, as image references name it.
func RegistryHost(repository string) string {
	h, _, _ := strings.Cut(repository, "/")
	return h
}
