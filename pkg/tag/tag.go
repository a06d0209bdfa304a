package tag

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/go-git/go-git/v5"
)

// DefaultFormat is the pattern's semver form: a Flux OCIRepository with `ref.semver`
// follows the newest artifact because pipeline IDs only grow.
const DefaultFormat = "v1.{{.PipelineID}}.0"

// DefaultRollbackFormat is the format of a rollback's tag: newer than the release of
// the same pipeline (v1.<id>.0), older than any later pipeline's, and a retried rollback
// job (a new job ID) gets a new one.
const DefaultRollbackFormat = "v1.{{.PipelineID}}.{{.JobID}}"

// Source says where a computed tag came from.
type Source string

const (
	SourceExplicit Source = "explicit"
	SourcePipeline Source = "pipeline"
	SourceCommit   Source = "commit"
)

// ErrNoSource is returned when no explicit tag, pipeline ID or git commit is available.
var ErrNoSource = errors.New("no tag source: give a tag, a pipeline ID or a commit")

// Config holds the inputs a tag is computed from. The first non-empty one wins:
// Explicit, then PipelineID (rendered through Format), then the commit (CommitSHA, or
// HEAD of the git repository at RepoDir) as a short SHA.
type Config struct {
	Explicit   string
	Format     string
	PipelineID string
	JobID      string // $CI_JOB_ID, for formats using .JobID
	CommitSHA  string
	Branch     string
	RepoDir    string
}

// FormatData is what a Format template sees.
type FormatData struct {
	PipelineID string
	JobID      string
	CommitSHA  string
	ShortSHA   string
	Branch     string
}

// Result is a computed tag and where it came from.
type Result struct {
	Tag    string `json:"tag"`
	Source Source `json:"source"`
}

// FromEnv fills a Config from GitLab's predefined variables.
func FromEnv(getenv func(string) string) Config {
	if getenv == nil {
		getenv = os.Getenv
	}
	return Config{
		Explicit:   getenv("TANDEM_TAG"),
		Format:     getenv("TANDEM_TAG_FORMAT"),
		PipelineID: getenv("CI_PIPELINE_ID"),
		JobID:      getenv("CI_JOB_ID"),
		CommitSHA:  getenv("CI_COMMIT_SHA"),
		Branch:     getenv("CI_COMMIT_BRANCH"),
	}
}

// Compute returns the tag for cfg and validates it.
func Compute(cfg Config) (Result, error) {
	var res Result
	switch {
	case cfg.Explicit != "":
		res = Result{Tag: cfg.Explicit, Source: SourceExplicit}
	case cfg.PipelineID != "":
		if !regexp.MustCompile(`^[0-9]+$`).MatchString(cfg.PipelineID) {
			return Result{}, fmt.Errorf("computing tag: CI_PIPELINE_ID %q is not a number", cfg.PipelineID)
		}
		// A pipeline ID with leading zeros (007) would render v1.007.0, which is not a
		// semantic version: the monotonic guard and Flux's ref.semver could not order it.
		id, err := strconv.ParseUint(cfg.PipelineID, 10, 64)
		if err != nil {
			return Result{}, fmt.Errorf("computing tag: CI_PIPELINE_ID %q: %w", cfg.PipelineID, err)
		}
		t, err := render(cfg, strconv.FormatUint(id, 10))
		if err != nil {
			return Result{}, err
		}
		res = Result{Tag: t, Source: SourcePipeline}
	default:
		sha := cfg.CommitSHA
		if sha == "" && cfg.RepoDir != "" {
			var err error
			if sha, err = headSHA(cfg.RepoDir); err != nil {
				return Result{}, fmt.Errorf("%w (no tag, no pipeline ID, and reading the commit of %s failed: %v)", ErrNoSource, cfg.RepoDir, err)
			}
		}
		if sha == "" {
			return Result{}, ErrNoSource
		}
		res = Result{Tag: shortSHA(sha), Source: SourceCommit}
	}
	if err := Validate(res.Tag); err != nil {
		return Result{}, err
	}
	return res, nil
}

func render(cfg Config, pipelineID string) (string, error) {
	format := cfg.Format
	if format == "" {
		format = DefaultFormat
	}
	tmpl, err := template.New("tag").Option("missingkey=error").Parse(format)
	if err != nil {
		return "", fmt.Errorf("parsing tag format %q: %w", format, err)
	}
	if strings.Contains(format, ".JobID") && cfg.JobID == "" {
		return "", fmt.Errorf("tag format %q uses .JobID: set CI_JOB_ID (GitLab does) or give the job ID", format)
	}
	var b bytes.Buffer
	data := FormatData{PipelineID: pipelineID, JobID: cfg.JobID, CommitSHA: cfg.CommitSHA, ShortSHA: shortSHA(cfg.CommitSHA), Branch: cfg.Branch}
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("rendering tag format %q: %w", format, err)
	}
	return strings.TrimSpace(b.String()), nil
}

func shortSHA(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

func headSHA(dir string) (string, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", fmt.Errorf("opening git repository at %s for the tag: %w", dir, err)
	}
	head, err := repo.Head()
	if err != nil {
		return "", fmt.Errorf("reading HEAD of %s for the tag: %w", dir, err)
	}
	return head.Hash().String(), nil
}
