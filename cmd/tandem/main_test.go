package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run executes the CLI in-process, as a user would call it.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestManifestCommands(t *testing.T) {
	t.Setenv("CI_PIPELINE_ID", "")
	dir := filepath.Join(t.TempDir(), "k8s")
	if _, err := run(t, "init", dir, "--app", "my-shop", "--image", "localhost:5000/my-shop", "--migration-command", "/app/migrate up"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "init", dir, "--app", "my-shop", "--image", "localhost:5000/my-shop", "--migration-command", "x"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second init = %v, want refusal naming --force", err)
	}
	out, err := run(t, "lint", dir, "-o", "json")
	if err != nil {
		t.Fatalf("lint: %v\n%s", err, out)
	}
	var rep struct{ Findings []any }
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Findings) != 0 {
		t.Errorf("lint json = %s (%v)", out, err)
	}
	out, err = run(t, "render", dir, "--tag", "v1.42.0")
	if err != nil || !strings.Contains(out, "name: my-shop-migration-v1.42.0") || !strings.Contains(out, "localhost:5000/my-shop:v1.42.0") {
		t.Errorf("render = %v\n%s", err, out)
	}
	file := filepath.Join(dir, "deployment-variables.yaml")
	if out, err = run(t, "bump", file, "--tag", "v1.43.0"); err != nil || !strings.Contains(out, "v0.1.0 -> v1.43.0") {
		t.Errorf("bump = %v, %q", err, out)
	}
	if out, err = run(t, "bump", file, "--tag", "v1.43.0"); err != nil || !strings.Contains(out, "unchanged") {
		t.Errorf("bump same tag = %v, %q", err, out)
	}
	if out, err = run(t, "render", dir); err != nil || !strings.Contains(out, "my-shop-migration-v1.43.0") {
		t.Errorf("render after bump = %v", err)
	}
}

func TestInitWithTandemWaiter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k8s")
	if _, err := run(t, "init", dir, "--app", "shop", "--image", "r.example.com/shop", "--migration-command", "m", "--waiter", "tandem"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "render", dir)
	if err != nil || !strings.Contains(out, "image: ghcr.io/tandem-ci/tandem:") || !strings.Contains(out, "pods/log") {
		t.Errorf("render = %v\n%s", err, out)
	}
	if out, err := run(t, "lint", dir); err != nil {
		t.Errorf("lint of the tandem waiter = %v\n%s", err, out)
	}
}

func TestLintExitsNonZeroOnErrors(t *testing.T) {
	out, err := run(t, "lint", "../../pkg/lint/testdata/TND003-backoff-limit")
	var exit *exitError
	if !errors.As(err, &exit) || !strings.Contains(out, "TND003") {
		t.Errorf("lint of a broken folder = %v\n%s", err, out)
	}
}

func TestTagFromGitLabEnv(t *testing.T) {
	t.Setenv("CI_PIPELINE_ID", "2286938253")
	t.Setenv("TANDEM_TAG", "")
	out, err := run(t, "tag", "--app", "my-shop", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["tag"] != "v1.2286938253.0" || got["jobName"] != "my-shop-migration-v1.2286938253.0" {
		t.Errorf("tag json = %s", out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"bump", filepath.Join(dir, "missing.yaml"), "--tag", "v1"}, "no such file"},
		{[]string{"bump", filepath.Join(dir, "x.yaml"), "--tag", "V1"}, "must be lowercase"},
		{[]string{"lint", dir}, "no kustomization.yaml"},
		{[]string{"render", dir}, "building kustomization"},
		{[]string{"init", dir, "--app", "Bad_App", "--image", "r/x", "--migration-command", "m"}, "invalid app name"},
		{[]string{"tag", "-o", "yaml", "--tag", "v1"}, "--output \"yaml\""},
	}
	for _, tt := range tests {
		_, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("tandem %v = %v, want error containing %q", tt.args, err, tt.wantErr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad input left %d files behind", len(entries))
	}
}

// TestInitDefaultsBelowRegistry: tandem init names the images as the release pushes them,
// below $CI_REGISTRY_IMAGE.
func TestInitDefaultsBelowRegistry(t *testing.T) {
	t.Setenv("CI_REGISTRY_IMAGE", "registry.gitlab.com/acme/shop")
	t.Setenv("CI_PROJECT_NAME", "shop")
	dir := filepath.Join(t.TempDir(), "k8s")
	if out, err := run(t, "init", dir, "--migration-command", "/app/shop migrate"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := run(t, "render", dir, "--tag", "v1.42.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: registry.gitlab.com/acme/shop/shop:v1.42.0", "image: registry.gitlab.com/acme/shop/shop-migration:v1.42.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
}

// TestInitMigrationCommandQuoting: the command is split as a shell would, and the result
// lints clean; unbalanced quotes are refused.
func TestInitMigrationCommandQuoting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k8s")
	if out, err := run(t, "init", dir, "--app", "inv", "--image", "r.example.com/inv", "--migration-command", `sh -c "alembic upgrade head"`); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "migration-job.yaml"))
	if !strings.Contains(string(b), `command: ["sh","-c","alembic upgrade head"]`) {
		t.Errorf("migration-job.yaml:\n%s", b)
	}
	if out, err := run(t, "lint", dir); err != nil {
		t.Errorf("lint: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "k8s")
	if _, err := run(t, "init", bad, "--app", "inv", "--image", "r.example.com/inv", "--migration-command", `sh -c "alembic upgrade head`); err == nil || !strings.Contains(err.Error(), "--migration-command") {
		t.Errorf("unbalanced quote = %v", err)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a refused init wrote files")
	}
}

// TestRenderAndLintHonourCancellation: a large folder takes seconds in kustomize's
// build; a cancelled context (SIGTERM, Ctrl-C) ends render and lint at once.
func TestRenderAndLintHonourCancellation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k8s")
	if _, err := run(t, "init", dir, "--app", "big", "--image", "r.example.com/big", "--migration-command", "m"); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := range 1500 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  k: v\n", i)
	}
	os.WriteFile(filepath.Join(dir, "many.yaml"), []byte(b.String()), 0o644)
	k, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(strings.Replace(string(k), "resources:\n", "resources:\n  - many.yaml\n", 1)), 0o644)
	for _, args := range [][]string{{"render", dir}, {"lint", dir}} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		cmd := newRootCmd()
		cmd.SetOut(io.Discard)
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("tandem %s cancelled after 100ms = %v, want context.Canceled", args[0], err)
		}
	}
}

// TestJSONErrors: with -o json a failing command still prints JSON on stdout.
func TestJSONErrors(t *testing.T) {
	root := newRootCmd()
	root.SetArgs([]string{"bump", filepath.Join(t.TempDir(), "missing.yaml"), "--tag", "v1.2.0", "-o", "json"})
	root.SetOut(io.Discard)
	err := root.Execute()
	var stdout, stderr bytes.Buffer
	report(root, nil, &stdout, &stderr, err)
	var got struct{ Error string }
	if jerr := json.Unmarshal(stdout.Bytes(), &got); jerr != nil || !strings.Contains(got.Error, "missing.yaml") || !strings.Contains(stderr.String(), "tandem: ") {
		t.Errorf("stdout %q (%v), stderr %q", stdout.String(), jerr, stderr.String())
	}
}

// TestEmptyTagMessage: an empty --tag outside a git repository says what to do.
func TestEmptyTagMessage(t *testing.T) {
	t.Setenv("CI_PIPELINE_ID", "")
	t.Setenv("CI_COMMIT_SHA", "")
	t.Setenv("TANDEM_TAG", "")
	_, err := run(t, "tag", "--tag", "", "--repo", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "pass --tag, set CI_PIPELINE_ID") {
		t.Errorf("tag --tag \"\" = %v", err)
	}
}

// TestInitRefusesExistingFluxFile: an existing flux/<app>.yaml stops init before k8s/ is
// written; --force overwrites both.
func TestInitRefusesExistingFluxFile(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "flux"), 0o755)
	os.WriteFile(filepath.Join(root, "flux", "shop.yaml"), []byte("mine\n"), 0o644)
	args := []string{"init", filepath.Join(root, "k8s"), "--app", "shop", "--image", "r.example.com/shop", "--migration-command", "m"}
	if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("init over an existing flux file = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "k8s")); err == nil {
		t.Error("a refused init wrote k8s/")
	}
	if _, err := run(t, append(args, "--force")...); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "flux", "shop.yaml")); !strings.Contains(string(b), "kind: OCIRepository") {
		t.Errorf("flux file after --force:\n%s", b)
	}
}
