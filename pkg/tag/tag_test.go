package tag_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/tag"
)

func TestCompute(t *testing.T) {
	tests := []struct {
		name string
		cfg  tag.Config
		want tag.Result
	}{
		{"explicit wins", tag.Config{Explicit: "v2.0.0", PipelineID: "7"}, tag.Result{Tag: "v2.0.0", Source: tag.SourceExplicit}},
		{"pipeline default format", tag.Config{PipelineID: "2286938253"}, tag.Result{Tag: "v1.2286938253.0", Source: tag.SourcePipeline}},
		{"rollback format", tag.Config{PipelineID: "12", JobID: "345", Format: tag.DefaultRollbackFormat}, tag.Result{Tag: "v1.12.345", Source: tag.SourcePipeline}},
		{"pipeline with leading zeros stays semver", tag.Config{PipelineID: "007"}, tag.Result{Tag: "v1.7.0", Source: tag.SourcePipeline}},
		{"pipeline custom format", tag.Config{PipelineID: "12", CommitSHA: "abcdef0123456789", Format: "v2.{{.PipelineID}}.0-{{.ShortSHA}}"}, tag.Result{Tag: "v2.12.0-abcdef01", Source: tag.SourcePipeline}},
		{"commit fallback", tag.Config{CommitSHA: "0123456789abcdef"}, tag.Result{Tag: "01234567", Source: tag.SourceCommit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tag.Compute(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Compute() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestComputeFromGitHead(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	got, err := tag.Compute(tag.Config{RepoDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(out))[:8]; got.Tag != want || got.Source != tag.SourceCommit {
		t.Errorf("Compute() = %+v, want tag %s from commit", got, want)
	}
}

func TestComputeErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     tag.Config
		wantMsg string
	}{
		{"nothing", tag.Config{}, "no tag source"},
		{"pipeline not numeric", tag.Config{PipelineID: "abc"}, `CI_PIPELINE_ID "abc" is not a number`},
		{"bad format", tag.Config{PipelineID: "1", Format: "{{.Nope"}, "parsing tag format"},
		{"unknown field", tag.Config{PipelineID: "1", Format: "{{.Nope}}"}, "rendering tag format"},
		{"job ID missing", tag.Config{PipelineID: "1", Format: tag.DefaultRollbackFormat}, "uses .JobID: set CI_JOB_ID"},
		{"format gives invalid tag", tag.Config{PipelineID: "1", Format: "V{{.PipelineID}}"}, "must be lowercase"},
		{"not a repository", tag.Config{RepoDir: os.TempDir()}, "opening git repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tag.Compute(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Compute() error = %v, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{"CI_PIPELINE_ID": "42", "CI_COMMIT_SHA": "deadbeefcafe", "CI_COMMIT_BRANCH": "main"}
	cfg := tag.FromEnv(func(k string) string { return env[k] })
	got, err := tag.Compute(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tag != "v1.42.0" {
		t.Errorf("tag = %q, want v1.42.0", got.Tag)
	}
}

func TestValidate(t *testing.T) {
	valid := []string{"v1.42.0", "v1.2286938253.0", "abc123", "1.0.0-rc.1"}
	for _, v := range valid {
		if err := tag.Validate(v); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", v, err)
		}
	}
	invalid := []struct{ tag, rule string }{
		{"", "must not be empty"},
		{"V1.0.0", "must be lowercase"},
		{"v1_0", "must not contain '_'"},
		{"v1+build", "only letters, digits"},
		{".v1", "must not start with"},
		{"-v1", "must not start with"},
		{"v1-", "must end with a letter or digit"},
		{strings.Repeat("a", 129), "the OCI limit is 128"},
	}
	for _, tt := range invalid {
		err := tag.Validate(tt.tag)
		if err == nil || !strings.Contains(err.Error(), tt.rule) || !errors.Is(err, tag.ErrInvalid) {
			t.Errorf("Validate(%q) = %v, want ErrInvalid mentioning %q", tt.tag, err, tt.rule)
		}
	}
}

func TestJobName(t *testing.T) {
	got, err := tag.JobName("my-shop", "v1.42.0")
	if err != nil || got != "my-shop-migration-v1.42.0" {
		t.Fatalf("JobName() = %q, %v", got, err)
	}
	bad := []struct{ app, tag, rule string }{
		{"My-Shop", "v1", "app name"},
		{"shop", "V1", "must be lowercase"},
		{strings.Repeat("a", 40), "v1.2286938253.0", "is 66 characters, the limit is 63"},
		{"shop_x", "v1", "app name"},
	}
	for _, tt := range bad {
		_, err := tag.JobName(tt.app, tt.tag)
		if err == nil || !strings.Contains(err.Error(), tt.rule) {
			t.Errorf("JobName(%q, %q) = %v, want error mentioning %q", tt.app, tt.tag, err, tt.rule)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"v1.9.0", "v1.10.0", -1},
		{"v1.10.0", "v1.9.0", 1},
		{"v1.2.0", "v1.2.0", 0},
		{"1.2.0", "v1.3.0", -1},
		{"abc", "abc", 0},
	}
	for _, tt := range tests {
		got, err := tag.Compare(tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d", tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := tag.Compare("abc1234", "v1.2.0"); !errors.Is(err, tag.ErrIncomparable) {
		t.Errorf("Compare(sha, semver) error = %v, want ErrIncomparable", err)
	}
}
