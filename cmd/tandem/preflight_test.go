package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/analyze"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/preflight"
)

// exampleK8s returns examples/go-postgres/k8s with its images moved to registry.
func exampleK8s(t *testing.T, registry string) map[string][]byte {
	t.Helper()
	dir := "../../examples/go-postgres/k8s"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = []byte(strings.ReplaceAll(string(b), "registry.gitlab.com/tandem-ci/tandem", registry))
	}
	return files
}

// exampleWith copies examples/go-postgres and adds migrations 00004, 00005, … with the
// Up statements.
func exampleWith(t *testing.T, ups ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "go-postgres")
	if err := os.CopyFS(dir, os.DirFS("../../examples/go-postgres")); err != nil {
		t.Fatal(err)
	}
	for i, up := range ups {
		sql := "-- +goose Up\n" + up + "\n\n-- +goose Down\nSELECT 1;\n"
		if err := os.WriteFile(filepath.Join(dir, "internal", "migrations", fmt.Sprintf("%05d_next.sql", 4+i)), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// requirePostgres skips the test without PostgreSQL's server binaries, unless CI is set:
// there .ci/run installs them.
func requirePostgres(t *testing.T) string {
	t.Helper()
	dir, err := preflight.PostgresBinDir()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set: .ci/run must install postgresql: %v", err)
		}
		t.Skip(err)
	}
	return dir
}

// TestReleasePreflight: `tandem release --preflight` of examples/go-postgres. A broken
// migration, and one the live release cannot run on, stop the release after the images:
// the branch and the artifact stay as they were, and the output shows the phases and the
// program's own error. A good one passes every phase and is committed. `tandem
// preflight` runs the same alone.
func TestReleasePreflight(t *testing.T) {
	requirePostgres(t)
	reg := testregistry.New(t, "", "")
	registry := reg.Host + "/tandem"
	files := exampleK8s(t, registry)
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", files))
	checkout := t.TempDir()
	for n, b := range files {
		os.MkdirAll(filepath.Join(checkout, "k8s"), 0o755)
		os.WriteFile(filepath.Join(checkout, "k8s", n), b, 0o644)
	}
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	t.Setenv("CI_REGISTRY_IMAGE", "")
	t.Setenv("CI_PROJECT_URL", "")
	// The current release: the variables file says v0.1.0.
	example, _ := filepath.Abs("../../examples/go-postgres")
	if out, err := run(t, "images", "--source", example, "--package", "./cmd/notes", "--registry", registry, "--app", "notes", "--tag", "v0.1.0"); err != nil {
		t.Fatalf("images v0.1.0: %v\n%s", err, out)
	}
	release := func(source, tag string, extra ...string) (string, error) {
		return run(t, append([]string{"release", "--preflight", "--compat-check", "/notes", "--app", "notes", "--registry", registry,
			"--source", source, "--package", "./cmd/notes", "--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci",
			"--checkout", checkout, "--tag", tag}, extra...)...)
	}

	head := git.Git(t, "rev-parse", "main")
	for _, c := range []struct {
		tag, up string
		show    []string
	}{
		{"v1.1.0", "ALTER TABLE note ADD COLUMN pinned boolean;", // broken: no table "note"
			[]string{"previous  passed", "migrate   failed", `relation "note" does not exist`}},
		{"v1.1.1", "ALTER TABLE notes DROP COLUMN created_at;", // the live service reads it
			[]string{"previous  passed", "migrate   passed", "rerun     passed", "compat    failed", `column "created_at" does not exist`}},
	} {
		out, err := release(exampleWith(t, c.up), c.tag)
		if err == nil || !strings.Contains(err.Error(), "nothing committed") || !strings.Contains(err.Error(), "images "+registry+"/notes:"+c.tag) {
			t.Fatalf("release %s = %v\n%s", c.tag, err, out)
		}
		for _, want := range c.show {
			if !strings.Contains(out+err.Error(), want) {
				t.Errorf("release %s: output does not show %q:\n%s", c.tag, want, out)
			}
		}
		if got := git.Git(t, "rev-parse", "main"); got != head {
			t.Errorf("release %s: branch moved from %s to %s after a failed pre-flight", c.tag, head, got)
		}
		if _, err := crane.Digest(registry + "/notes/manifests:" + c.tag); err == nil {
			t.Errorf("release %s: an artifact was pushed after a failed pre-flight", c.tag)
		}
	}

	// Issue 19, item 18: with -o json a failed pre-flight prints its phases and the
	// program's output beside the error.
	out, err := run(t, "preflight", "--app", "notes", "--registry", registry, "--checkout", checkout, "--tag", "v1.1.0", "-o", "json")
	var failed struct {
		Error     string
		Preflight preflight.Result
	}
	if derr := json.NewDecoder(strings.NewReader(out)).Decode(&failed); err == nil || derr != nil || !strings.Contains(failed.Error, "migrat") ||
		len(failed.Preflight.Phases) != 3 || !strings.Contains(failed.Preflight.Phases[2].Log, `relation "note" does not exist`) {
		t.Errorf("preflight -o json of a broken migration = %v (%v)\n%s", err, derr, out)
	}

	out, err = release(exampleWith(t, "ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;"), "v1.2.0", "-o", "json")
	if err != nil {
		t.Fatalf("release of a compatible migration: %v\n%s", err, out)
	}
	var res struct {
		Preflight preflight.Result
		Commit    struct{ Commit string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Preflight.Phases) != 5 || res.Preflight.PreviousTag != "v0.1.0" || res.Commit.Commit != git.Git(t, "rev-parse", "main") {
		t.Errorf("release = %+v", res)
	}
	for _, p := range res.Preflight.Phases {
		if p.Status != preflight.StatusPassed {
			t.Errorf("phase %s: %s %s", p.Name, p.Status, p.Detail)
		}
	}

	// The command alone, against the images just released (the checkout still says v0.1.0).
	out, err = run(t, "preflight", "--app", "notes", "--registry", registry, "--checkout", checkout, "--tag", "v1.2.0", "--compat-check", "/notes")
	if err != nil || !strings.Contains(out, "preflight done") || !strings.Contains(out, "GET /notes answered 200") {
		t.Errorf("tandem preflight: %v\n%s", err, out)
	}
}

// TestPreflightBadInput: what the pre-flight cannot read is named before anything runs.
func TestPreflightBadInput(t *testing.T) {
	t.Setenv("CI_REGISTRY_IMAGE", "")
	t.Setenv("CI_PROJECT_NAME", "")
	good := t.TempDir()
	if _, err := manifest.Render(filepath.Join(good, "k8s"), manifest.Spec{App: "shop", Image: "registry.example.com/acme/shop", MigrationCommand: []string{"/app/shop", "migrate"}, Tag: "v1.0.0"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no manifests", []string{"--app", "shop", "--registry", "registry.example.com/acme", "--checkout", t.TempDir()}, "k8s of the checkout"},
		{"no app", []string{"--registry", "registry.example.com/acme", "--checkout", good}, "app: required"},
		{"manifests of another app", []string{"--app", "notes", "--registry", "registry.example.com/acme", "--checkout", good}, "no Job container runs an image of registry.example.com/acme/notes-migration"},
		{"variables file missing", []string{"--app", "shop", "--registry", "registry.example.com/acme", "--checkout", good, "--file", "k8s/missing.yaml"}, "the current release: reading "},
		{"bad tag", []string{"--app", "shop", "--registry", "registry.example.com/acme", "--checkout", good, "--tag", "V1_0"}, "invalid tag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"preflight"}, c.args...)
			if !slices.Contains(args, "--tag") {
				args = append(args, "--tag", "v1.1.0")
			}
			out, err := run(t, args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("tandem %v = %v, want an error saying %q\n%s", args, err, c.want, out)
			}
		})
	}
}

// TestReleasePreflightValidatesFirst: a pre-flight that could not run stops the release
// before anything is built or pushed.
func TestReleasePreflightValidatesFirst(t *testing.T) {
	reg := testregistry.New(t, "", "")
	t.Setenv("TANDEM_GIT_TOKEN", "x")
	t.Setenv("CI_REGISTRY_IMAGE", "")
	t.Setenv("CI_PROJECT_URL", "")
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	out, err := run(t, "release", "--preflight", "--app", "shop", "--registry", reg.Host, "--source", hello, "--checkout", t.TempDir(),
		"--repo-url", "http://127.0.0.1:1/shop.git", "--branch", "main", "--tag", "v1.1.0")
	if err == nil || !strings.Contains(err.Error(), "preflight step: the pre-flight reads the migration and the service from the manifests at k8s") {
		t.Fatalf("release --preflight without manifests = %v\n%s", err, out)
	}
	if n := reg.Requests.Load(); n != 0 {
		t.Errorf("the registry got %d requests before the release stopped", n)
	}
}

// TestLintMigrations (issue 23): `tandem lint --migrations DIR` replays the live files on
// a throwaway PostgreSQL and reports each new statement, measured, with its findings;
// errors fail the command, -o json carries the report; a folder with no SQL is named.
func TestLintMigrations(t *testing.T) {
	requirePostgres(t)
	dir := "../../examples/go-postgres/internal/migrations"
	out, err := run(t, "lint", "--migrations", dir)
	if err == nil || !strings.Contains(out, "00003_rename_body_to_content.sql:5: error BC102") || !strings.Contains(out, "ACCESS EXCLUSIVE on notes") ||
		!strings.Contains(out, "(goose): 1 new files (1 statements) after 2 live") {
		t.Errorf("lint --migrations = %v\n%s", err, out)
	}
	out, err = run(t, "lint", "--migrations", dir, "--migrations-since", "2", "-o", "json")
	var res struct {
		Manifests  any
		Migrations analyze.Report
	}
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil || err == nil || len(res.Migrations.Live) != 2 || len(res.Migrations.Files) != 1 ||
		res.Migrations.Files[0].Statements[0].Locks[0].Mode != "ACCESS EXCLUSIVE" {
		t.Errorf("lint --migrations -o json = %v (%v)\n%s", err, jerr, out)
	}
	// With an allow comment the same folder passes; the kustomization is linted beside it.
	allowed := t.TempDir()
	os.CopyFS(allowed, os.DirFS(dir))
	f := filepath.Join(allowed, "00003_rename_body_to_content.sql")
	b, _ := os.ReadFile(f)
	os.WriteFile(f, []byte(strings.Replace(string(b), "ALTER TABLE notes RENAME", "-- tandem:allow BC102 \"the init container keeps old pods off the new schema\"\nALTER TABLE notes RENAME", 1)), 0o644)
	if out, err := run(t, "lint", "../../examples/go-postgres/k8s", "--migrations", allowed); err != nil || !strings.Contains(out, "allowed: the init container") {
		t.Errorf("lint with an allowed finding = %v\n%s", err, out)
	}
	if out, err := run(t, "lint", "--migrations", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no SQL migrations tandem can read") {
		t.Errorf("lint --migrations of an empty folder = %v\n%s", err, out)
	}
	if out, err := run(t, "lint"); err == nil || !strings.Contains(err.Error(), "give DIR") {
		t.Errorf("lint without a folder = %v\n%s", err, out)
	}
}
