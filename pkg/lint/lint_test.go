package lint_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-ci/tandem/pkg/lint"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

// TestFixtures lints every testdata/<case>/ and compares the set of rules that fire with
// testdata/<case>/expected (one rule ID a line; empty for a clean folder).
func TestFixtures(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := readExpected(t, dir)
			rep, err := lint.Lint(context.Background(), dir, lint.WithFluxDir(filepath.Join(dir, "flux")))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Findings {
				if !slices.Contains(got, f.Rule) {
					got = append(got, f.Rule)
				}
				if f.File == "" || f.Line <= 0 || f.Message == "" || f.Fix == "" {
					t.Errorf("finding lacks file, line, message or fix: %+v", f)
				}
				if _, err := os.Stat(filepath.Join(dir, f.File)); err != nil {
					t.Errorf("finding names a file that does not exist: %s", f.File)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("rules fired = %v, want %v\n%s", got, want, findings(rep))
			}
			if id, _, _ := strings.Cut(filepath.Base(dir), "-"); strings.HasPrefix(id, "TND") {
				if !slices.Contains(got, id) {
					t.Errorf("fixture for %s does not trigger it", id)
				}
				covered[id] = true
			}
		})
	}
	for _, r := range lint.Rules {
		if !covered[r.ID] {
			t.Errorf("rule %s (%s) has no failing fixture testdata/%s-*", r.ID, r.Name, r.ID)
		}
	}
}

// TestSeedImageTagFinding pins the write-up's central flaw: its images never get the tag.
func TestSeedImageTagFinding(t *testing.T) {
	for _, dir := range []string{"testdata/seed", "testdata/seed-buildable"} {
		rep, err := lint.Lint(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range rep.Findings {
			if f.Rule == lint.RuleImageTag.ID && strings.Contains(f.Message, "${IMAGE_TAG}") {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%s: %d image-tag findings, want 2 (service and migration)\n%s", dir, n, findings(rep))
		}
	}
}

func TestRenderedManifestsLintClean(t *testing.T) {
	for _, app := range []string{"my-shop", "shop", "a-b-c"} {
		dir := t.TempDir()
		spec := manifest.Spec{App: app, Image: "localhost:5000/" + app, MigrationCommand: []string{"migrate"}, WaiterLogs: true}
		if _, err := manifest.Render(dir, spec); err != nil {
			t.Fatal(err)
		}
		rep, err := lint.Lint(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) != 0 || !rep.Built {
			t.Errorf("%s: rendered manifests have findings (built=%v):\n%s", app, rep.Built, findings(rep))
		}
	}
}

func TestNoKustomization(t *testing.T) {
	_, err := lint.Lint(context.Background(), t.TempDir())
	if !errors.Is(err, lint.ErrNoKustomization) {
		t.Fatalf("Lint(empty dir) = %v, want ErrNoKustomization", err)
	}
}

func TestReportJSON(t *testing.T) {
	rep, err := lint.Lint(context.Background(), "testdata/TND003-backoff-limit")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal(b, &back); err != nil || len(back.Findings) != 1 || back.Findings[0]["rule"] != "TND003" || back.Findings[0]["line"] != float64(17) {
		t.Errorf("JSON report = %s", b)
	}
	if rep.Errors() != 1 {
		t.Errorf("Errors() = %d, want 1", rep.Errors())
	}
}

func readExpected(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "expected"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(b))
	slices.Sort(want)
	return want
}

func findings(rep lint.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// TestDisplayName: a folder linted from a copy (the Dagger module's temporary export) is
// reported under the repository's path, in the report and in a failing build's message.
func TestDisplayName(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [missing.yaml]\n"), 0o644)
	rep, err := lint.Lint(context.Background(), dir, lint.WithDisplayName("deploy/k8s"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dir != "deploy/k8s" || len(rep.Findings) == 0 {
		t.Fatalf("report = %+v", rep)
	}
	for _, f := range rep.Findings {
		if strings.Contains(f.Message, dir) {
			t.Errorf("finding names the copy %s: %s", dir, f.Message)
		}
	}
	if f := rep.Findings[0]; f.Rule != "TND000" || !strings.Contains(f.Message, "deploy/k8s") {
		t.Errorf("build finding = %+v", f)
	}
}
