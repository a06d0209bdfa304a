package main

// GitLab pipelines executed by gitlab-ci-local (npm, pinned 4.65.0; .ci/run installs it):
// it validates them against GitLab's JSON schema, expands include/inputs/extends/
// !reference/rules, and with --force-shell-executor runs jobs on this machine.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"go.yaml.in/yaml/v3"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/preflight"
)

// GitLabCILocalVersion is the interpreter the tests pin (newer ones need Node 22).
const GitLabCILocalVersion = "4.65.0"

// gitlabCILocal finds gitlab-ci-local: $TANDEM_GITLAB_CI_LOCAL, the folder .ci/run
// installs it to, or PATH. Without it the test is skipped locally and fails in CI.
func gitlabCILocal(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("TANDEM_GITLAB_CI_LOCAL")}
	if cache, err := os.UserCacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(cache, "tandem", "gitlab-ci-local", "node_modules", ".bin", "gitlab-ci-local"))
	}
	if p, err := exec.LookPath("gitlab-ci-local"); err == nil {
		candidates = append(candidates, p)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if out, err := exec.Command(c, "--version").Output(); err == nil && strings.TrimSpace(string(out)) == GitLabCILocalVersion {
			return c
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but gitlab-ci-local %s is missing: .ci/run must install it (npm) and rsync (apt)", GitLabCILocalVersion)
	}
	t.Skipf("gitlab-ci-local %s not installed (npm install --prefix ~/.cache/tandem/gitlab-ci-local gitlab-ci-local@%s)", GitLabCILocalVersion, GitLabCILocalVersion)
	return ""
}

// workspace makes a git checkout holding files, with origin at project on gitlab.com,
// as a GitLab runner leaves it.
func workspace(t *testing.T, project string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init"},
		{"remote", "add", "origin", "https://gitlab.com/" + project + ".git"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// gcl runs gitlab-ci-local in dir; env is added to the process environment.
func gcl(t *testing.T, bin, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// listed returns the job names of a gitlab-ci-local --list output.
func listed(out string) []string {
	var jobs []string
	header := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if f[0] == "name" && slices.Contains(f, "stage") {
			header = true
			continue
		}
		if header {
			jobs = append(jobs, f[0])
		}
	}
	return jobs
}

func readRoot(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// componentRef is how the examples include the component; offline it cannot resolve,
// so the tests include templates/release.yml locally with the same inputs.
var componentRef = regexp.MustCompile(`(?m)^(\s*)- component: \$CI_SERVER_FQDN/tandem-ci/tandem/release@\S+$`)

func localComponent(t *testing.T, pipeline string) string {
	t.Helper()
	if !componentRef.MatchString(pipeline) {
		t.Fatalf("pipeline does not include the component by reference:\n%s", pipeline)
	}
	return componentRef.ReplaceAllString(pipeline, "${1}- local: templates/release.yml")
}

// TestGitLabPipelinesValidate: the repository's pipeline and each example's pass
// GitLab's schema and expand to the expected jobs on the default branch.
func TestGitLabPipelinesValidate(t *testing.T) {
	t.Parallel()
	bin := gitlabCILocal(t)
	cases := map[string]struct {
		project, pipeline string
		want              []string
	}{
		"tandem": {"tandem-ci/tandem", readRoot(t, ".gitlab-ci.yml"), []string{"lint", "test", "dagger-module", "release-example"}},
	}
	examples, _ := filepath.Glob(filepath.Join(root, "examples", "*", ".gitlab-ci.yml"))
	if len(examples) < 4 {
		t.Fatalf("examples with a pipeline: %v", examples)
	}
	for _, f := range examples {
		b, _ := os.ReadFile(f)
		name := filepath.Base(filepath.Dir(f))
		job := "tandem-release"
		if regexp.MustCompile(`(?m)^\s*engine: binary`).Match(b) {
			job = "tandem-release-binary"
		}
		cases[name] = struct {
			project, pipeline string
			want              []string
		}{"acme/" + name, localComponent(t, string(b)), []string{job}}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := workspace(t, c.project, map[string]string{".gitlab-ci.yml": c.pipeline, "templates/release.yml": readRoot(t, "templates/release.yml")})
			out, err := gcl(t, bin, dir, nil, "--list")
			if err != nil {
				t.Fatalf("gitlab-ci-local --list: %v\n%s", err, out)
			}
			jobs := listed(out)
			for _, w := range c.want {
				if !slices.Contains(jobs, w) {
					t.Errorf("jobs %v lack %s\n%s", jobs, w, out)
				}
			}
		})
	}
}

// TestGitLabReleaseRules: the release job and the manual rollback job run on the
// default branch only: not in a merge-request pipeline, a tag pipeline or on another
// branch, for both engines.
func TestGitLabReleaseRules(t *testing.T) {
	t.Parallel()
	bin := gitlabCILocal(t)
	for _, engine := range []string{"dagger", "binary"} {
		job := map[string]string{"dagger": "tandem-release", "binary": "tandem-release-binary"}[engine]
		rollbackJob := strings.Replace(job, "release", "rollback", 1)
		pipeline := "include:\n  - local: templates/release.yml\n    inputs:\n      app: shop\n      engine: " + engine + "\nstages: [deploy]\n"
		dir := workspace(t, "acme/shop", map[string]string{".gitlab-ci.yml": pipeline, "templates/release.yml": readRoot(t, "templates/release.yml")})
		for name, c := range map[string]struct {
			vars []string
			runs bool
		}{
			"default branch": {nil, true},
			"merge request":  {[]string{"CI_PIPELINE_SOURCE=merge_request_event"}, false},
			"tag":            {[]string{"CI_COMMIT_TAG=v1.0.0"}, false},
			"other branch":   {[]string{"CI_COMMIT_BRANCH=feature"}, false},
		} {
			args := []string{"--list"}
			for _, v := range c.vars {
				args = append(args, "--variable", v)
			}
			out, err := gcl(t, bin, dir, nil, args...)
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", engine, name, err, out)
			}
			jobs := listed(out)
			if slices.Contains(jobs, job) != c.runs || slices.Contains(jobs, rollbackJob) != c.runs || len(jobs) > 2 {
				t.Errorf("%s, %s: jobs %v, want %s and %s: %v", engine, name, jobs, job, rollbackJob, c.runs)
			}
			if c.runs && !regexp.MustCompile(`(?m)^`+rollbackJob+`\s.*\bmanual\b`).MatchString(out) {
				t.Errorf("%s: the rollback job is not manual:\n%s", engine, out)
			}
		}
	}
}

// preview returns the pipeline with includes, inputs and references expanded.
func preview(t *testing.T, bin, dir string) map[string]any {
	t.Helper()
	out, err := gcl(t, bin, dir, nil, "--preview")
	if err != nil {
		t.Fatalf("--preview: %v\n%s", err, out)
	}
	i := strings.Index(out, "---\n")
	if i < 0 {
		t.Fatalf("--preview printed no YAML:\n%s", out)
	}
	var p map[string]any
	if err := yaml.Unmarshal([]byte(out[i:]), &p); err != nil {
		t.Fatalf("parsing the preview: %v\n%s", err, out)
	}
	return p
}

// scripts joins a job's before_script and script lines.
func scripts(job any) string {
	m, _ := job.(map[string]any)
	var b strings.Builder
	for _, k := range []string{"before_script", "script"} {
		lines, _ := m[k].([]any)
		for _, l := range lines {
			b.WriteString(strings.TrimSpace(strings.TrimSpace(fmtAny(l))))
			b.WriteString("\n")
		}
	}
	return b.String()
}

func fmtAny(v any) string {
	s, _ := v.(string)
	return s
}

// TestGitLabDaggerCalls: the Dagger jobs cannot run without an engine, so their
// expanded scripts are checked against the module: every function and argument exists,
// every secret argument is passed as env:NAME and nothing else is, booleans are true/false.
// The repository's test job runs .ci/run, as the README says.
func TestGitLabDaggerCalls(t *testing.T) {
	t.Parallel()
	bin := gitlabCILocal(t)
	fns := daggerFunctions(t)
	kinds := daggerArgKinds(t)
	own := workspace(t, "tandem-ci/tandem", map[string]string{".gitlab-ci.yml": readRoot(t, ".gitlab-ci.yml")})
	comp := workspace(t, "acme/shop", map[string]string{
		".gitlab-ci.yml":        "include:\n  - local: templates/release.yml\n    inputs:\n      app: shop\n      engine: dagger\n      manifests_path: deploy/k8s\nstages: [deploy]\n",
		"templates/release.yml": readRoot(t, "templates/release.yml")})
	ownPipeline, compPipeline := preview(t, bin, own), preview(t, bin, comp)
	var module struct{ EngineVersion string }
	if err := json.Unmarshal([]byte(readRoot(t, "dagger.json")), &module); err != nil || module.EngineVersion == "" {
		t.Fatalf("dagger.json: %v", err)
	}
	engineVersion := module.EngineVersion
	if s := scripts(ownPipeline["test"]); !strings.Contains(s, "bash .ci/run") {
		t.Errorf("the test job does not run bash .ci/run:\n%s", s)
	}
	calls := 0
	for name, job := range map[string]any{"release-example": ownPipeline["release-example"], "lint": ownPipeline["lint"], "tandem-release": compPipeline["tandem-release"],
		"tandem-rollback": compPipeline["tandem-rollback"]} {
		s := scripts(job)
		if !strings.Contains(s, "dagger ") {
			t.Errorf("%s runs no dagger call:\n%s", name, s)
			continue
		}
		calls++
		for _, p := range append(checkDagger(fns, s), checkDaggerKinds(kinds, s)...) {
			t.Errorf("%s: %s", name, p)
		}
		// Issue 22, item 5: the log stays small, the CLI is the engine the module was
		// generated for.
		if !strings.Contains(s, "dagger --progress=plain ") {
			t.Errorf("%s: dagger runs without --progress=plain:\n%s", name, s)
		}
		vars, _ := job.(map[string]any)["variables"].(map[string]any)
		v := fmtAny(vars["DAGGER_VERSION"])
		if global, _ := ownPipeline["variables"].(map[string]any); v == "" && !strings.HasPrefix(name, "tandem-") {
			v = fmtAny(global["DAGGER_VERSION"])
		}
		if "v"+v != engineVersion {
			t.Errorf("%s: DAGGER_VERSION %q, dagger.json's engineVersion is %s", name, v, engineVersion)
		}
		if strings.HasPrefix(name, "tandem-") && !strings.Contains(s, "--path=deploy/k8s") {
			t.Errorf("the component does not pass manifests_path on:\n%s", s)
		}
	}
	// Issue 24: both jobs deploy to the environment, one resource_group per environment,
	// the Kubernetes keys GitLab's environment page reads.
	for _, name := range []string{"tandem-release", "tandem-rollback"} {
		job, _ := compPipeline[name].(map[string]any)
		envm, _ := job["environment"].(map[string]any)
		k8s, _ := envm["kubernetes"].(map[string]any)
		if fmtAny(envm["name"]) != "production" || fmtAny(envm["deployment_tier"]) != "production" || fmtAny(job["resource_group"]) != "tandem-production" ||
			fmtAny(k8s["namespace"]) != "$CI_PROJECT_NAME" {
			t.Errorf("%s: environment %v, resource_group %v", name, job["environment"], job["resource_group"])
		}
	}
	if calls != 4 {
		t.Fatalf("checked %d dagger jobs, want 4", calls)
	}
	// The kind check fails on a secret passed as plain text.
	if got := checkDaggerKinds(kinds, "dagger call --git-token=$TOKEN release --dry-run=yes"); len(got) != 2 {
		t.Errorf("checkDaggerKinds caught %v, want the plain secret and the non-boolean", got)
	}
}

// TestGitLabComponentBinaryEngine runs the component's tandem-release-binary job with
// the shell executor, against the loopback registry and git server, with GitLab's
// variables: default manifests folder, deploy/k8s, and an older pipeline after a newer.
func TestGitLabComponentBinaryEngine(t *testing.T) {
	t.Parallel()
	bin := gitlabCILocal(t)
	tandemBin := tandemBinary(t)
	hello := map[string]string{}
	for _, f := range []string{"go.mod", "main.go"} {
		b, err := os.ReadFile(filepath.Join(root, "pkg", "image", "testdata", "hello", f))
		if err != nil {
			t.Fatal(err)
		}
		hello[f] = string(b)
	}
	for _, path := range []string{"k8s", "deploy/k8s"} {
		t.Run(strings.ReplaceAll(path, "/", "-"), func(t *testing.T) {
			reg := testregistry.New(t, "gitlab-ci-token", "job-token-secret")
			registryImage := reg.Host + "/acme/shop"
			k8s, err := manifest.Files(manifest.Spec{App: "shop", Image: registryImage + "/shop", MigrationCommand: []string{"/app/hello", "migrate"}, Tag: "v1.0.0"})
			if err != nil {
				t.Fatal(err)
			}
			git := testgit.New(t, "project_7_bot", "deploy-token-secret", testgit.Under(path, k8s))
			files := map[string]string{"templates/release.yml": readRoot(t, "templates/release.yml"),
				".gitlab-ci.yml": "include:\n  - local: templates/release.yml\n    inputs:\n      app: shop\n      engine: binary\n      manifests_path: " + path + "\n      git_username: project_7_bot\nstages: [deploy]\n"}
			for f, c := range testgit.Under(path, k8s) {
				files[f] = c
			}
			for f, c := range hello {
				files[f] = c
			}
			dir := workspace(t, "acme/shop", files)
			env := []string{"PATH=" + tandemBin + string(os.PathListSeparator) + os.Getenv("PATH")}
			run := func(pipeline string) string {
				args := []string{"tandem-release-binary", "--force-shell-executor", "--quiet=false"}
				for _, v := range []string{"CI_REGISTRY=" + reg.Host, "CI_REGISTRY_IMAGE=" + registryImage, "CI_REGISTRY_USER=gitlab-ci-token",
					"CI_REGISTRY_PASSWORD=job-token-secret", "CI_PROJECT_URL=" + strings.TrimSuffix(git.RepoURL, ".git"),
					"CI_COMMIT_BRANCH=main", "CI_DEFAULT_BRANCH=main", "CI_PIPELINE_ID=" + pipeline,
					"CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567", "TANDEM_GIT_TOKEN=deploy-token-secret",
					"GITLAB_USER_NAME=Ada Lovelace", "GITLAB_USER_EMAIL=ada@example.com"} {
					args = append(args, "--variable", v)
				}
				start := time.Now()
				out, err := gcl(t, bin, dir, env, args...)
				t.Logf("pipeline %s: gitlab-ci-local ran the job in %s", pipeline, time.Since(start).Round(time.Millisecond))
				if err != nil {
					t.Fatalf("job failed: %v\n%s", err, out)
				}
				for _, secret := range []string{"deploy-token-secret", "job-token-secret"} {
					if strings.Contains(out, secret) {
						t.Errorf("the job log shows a secret:\n%s", out)
					}
				}
				return out
			}
			run("42")
			vars := path + "/deployment-variables.yaml"
			if got := git.Git(t, "show", "main:"+vars); !strings.Contains(got, `IMAGE_TAG: "v1.42.0"`) {
				t.Errorf("%s on main:\n%s", vars, got)
			}
			if msg := git.Git(t, "log", "-1", "--format=%s|%an", "main"); msg != "ci: update shop image tag to v1.42.0 [skip ci]|Ada Lovelace" {
				t.Errorf("bump commit = %q", msg)
			}
			auth := crane.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "gitlab-ci-token", Password: "job-token-secret"}))
			for _, repo := range []string{"shop", "shop-migration"} {
				if _, err := crane.Digest(registryImage+"/"+repo+":v1.42.0", auth); err != nil {
					t.Errorf("image %s:v1.42.0: %v", repo, err)
				}
			}
			pulled := t.TempDir()
			if _, err := oci.NewClient([]crane.Option{auth}).Pull(context.Background(), registryImage+"/shop/manifests:v1.42.0", pulled); err != nil {
				t.Fatalf("pulling the artifact: %v", err)
			}
			if b, _ := os.ReadFile(filepath.Join(pulled, "deployment-variables.yaml")); !strings.Contains(string(b), `"v1.42.0"`) {
				t.Errorf("artifact's deployment-variables.yaml:\n%s", b)
			}
			// An older pipeline after the newer one: superseded, the branch keeps v1.42.0.
			if out := run("41"); !strings.Contains(out, "superseded") {
				t.Errorf("older pipeline did not report superseded:\n%s", out)
			}
			if got := git.Git(t, "show", "main:"+vars); !strings.Contains(got, `IMAGE_TAG: "v1.42.0"`) {
				t.Errorf("after the older pipeline, %s on main:\n%s", vars, got)
			}
		})
	}
}

// TestGitLabComponentRollback runs the component's manual tandem-rollback-binary job
// with the shell executor against the loopback registry and git server: after two
// releases of examples/go-postgres, the job proves the first on the live schema (a
// throwaway PostgreSQL) and releases v1.<pipeline>.<job> with its images.
func TestGitLabComponentRollback(t *testing.T) {
	bin := gitlabCILocal(t)
	if _, err := preflight.PostgresBinDir(); err != nil {
		t.Fatalf("the rollback's proof needs PostgreSQL: %v", err)
	}
	tandemBin := tandemBinary(t)
	reg := testregistry.New(t, "gitlab-ci-token", "job-token-secret")
	registryImage := reg.Host + "/acme/notes"
	k8s := exampleK8s(t, registryImage)
	git := testgit.New(t, "project_7_bot", "deploy-token-secret", testgit.Under("k8s", k8s))
	files := map[string]string{"templates/release.yml": readRoot(t, "templates/release.yml"),
		".gitlab-ci.yml": "include:\n  - local: templates/release.yml\n    inputs:\n      app: notes\n      engine: binary\n      compat_check: /notes\n      git_username: project_7_bot\nstages: [deploy]\n"}
	for f, c := range testgit.Under("k8s", k8s) {
		files[f] = c
	}
	dir := workspace(t, "acme/notes", files)

	// Two releases (v1.42.0, v1.43.0) made by the CLI, as the release job would.
	t.Setenv("TANDEM_GIT_TOKEN", "deploy-token-secret")
	t.Setenv("TANDEM_REGISTRY_PASSWORD", "job-token-secret")
	t.Setenv("CI_PROJECT_URL", "")
	t.Setenv("CI_REGISTRY_IMAGE", "")
	for i, ups := range [][]string{{"ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;"}, {"ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;", "CREATE INDEX notes_created_at ON notes (created_at);"}} {
		tag := fmt.Sprintf("v1.%d.0", 42+i)
		if out, err := run(t, "release", "--source", exampleWith(t, ups...), "--package", "./cmd/notes", "--app", "notes", "--registry", registryImage,
			"--registry-username", "gitlab-ci-token", "--repo-url", git.RepoURL, "--branch", "main", "--git-username", "project_7_bot", "--checkout", dir, "--tag", tag); err != nil {
			t.Fatalf("release %s: %v\n%s", tag, err, out)
		}
	}

	vars := []string{"CI_REGISTRY=" + reg.Host, "CI_REGISTRY_IMAGE=" + registryImage, "CI_REGISTRY_USER=gitlab-ci-token",
		"CI_REGISTRY_PASSWORD=job-token-secret", "CI_PROJECT_URL=" + strings.TrimSuffix(git.RepoURL, ".git"),
		"CI_COMMIT_BRANCH=main", "CI_DEFAULT_BRANCH=main", "CI_PIPELINE_ID=43", "CI_JOB_ID=7001",
		"CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567", "TANDEM_GIT_TOKEN=deploy-token-secret",
		"GITLAB_USER_NAME=Ada Lovelace", "GITLAB_USER_EMAIL=ada@example.com"}
	job := func(name string, extra ...string) (string, error) {
		args := []string{name, "--force-shell-executor", "--quiet=false"}
		for _, v := range append(vars, extra...) {
			args = append(args, "--variable", v)
		}
		return gcl(t, bin, dir, []string{"PATH=" + tandemBin + string(os.PathListSeparator) + os.Getenv("PATH")}, args...)
	}
	// Issue 24: a deploy freeze stops the release job before anything is built or pushed.
	head, writes := git.Git(t, "rev-parse", "main"), reg.Writes.Load()
	if out, err := job("tandem-release-binary", "CI_DEPLOY_FREEZE=true", "CI_PIPELINE_ID=44"); err == nil || !strings.Contains(out, "deploy freeze: a deploy freeze window is open") {
		t.Errorf("release job in a deploy freeze = %v\n%s", err, out)
	}
	if git.Git(t, "rev-parse", "main") != head || reg.Writes.Load() != writes {
		t.Errorf("a frozen release wrote: %v", reg.Written()[writes:])
	}
	// A rollback runs during a freeze: it is how an incident ends.
	start := time.Now()
	out, err := job("tandem-rollback-binary", "CI_DEPLOY_FREEZE=true")
	t.Logf("gitlab-ci-local ran the rollback job in %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("rollback job failed: %v\n%s", err, out)
	}
	for _, want := range []string{"rollback v1.43.7001", "v1.42.0 proved on the live schema of v1.43.0", "rolled back: v1.43.7001 runs v1.42.0's images"} {
		if !strings.Contains(out, want) {
			t.Errorf("the job log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"deploy-token-secret", "job-token-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("the job log shows a secret:\n%s", out)
		}
	}
	if got := git.Git(t, "show", "main:k8s/deployment-variables.yaml"); !strings.Contains(got, `IMAGE_TAG: "v1.43.7001"`) {
		t.Errorf("variables file on main:\n%s", got)
	}
	if msg := git.Git(t, "log", "-1", "--format=%s|%an", "main"); msg != "ci: roll notes back to v1.42.0 as v1.43.7001 [skip ci]|Ada Lovelace" {
		t.Errorf("rollback commit = %q", msg)
	}
	auth := crane.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "gitlab-ci-token", Password: "job-token-secret"}))
	for _, repo := range []string{"notes", "notes-migration"} {
		old, err1 := crane.Digest(registryImage+"/"+repo+":v1.42.0", auth)
		now, err2 := crane.Digest(registryImage+"/"+repo+":v1.43.7001", auth)
		if err1 != nil || err2 != nil || old != now {
			t.Errorf("%s:v1.43.7001 = %s (%v), want v1.42.0's %s (%v)", repo, now, err2, old, err1)
		}
	}
}
