package manifest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/utils"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/variables"
)

func spec(app string) manifest.Spec {
	return manifest.Spec{
		App:              app,
		Namespace:        "shop",
		Image:            "registry.example.com:5000/acme/" + app,
		MigrationCommand: []string{"npx", "prisma", "migrate", "deploy"},
	}
}

// TestRenderBuildsThePattern renders, sets the tag the way CI does, builds with krusty
// and checks every property the pattern depends on.
func TestRenderBuildsThePattern(t *testing.T) {
	for _, app := range []string{"my-shop", "myapp", "a-b-c-d"} {
		t.Run(app, func(t *testing.T) {
			const releaseTag = "v1.42.0"
			dir := t.TempDir()
			if _, err := manifest.Render(dir, spec(app)); err != nil {
				t.Fatal(err)
			}
			if _, err := variables.SetFile(filepath.Join(dir, "deployment-variables.yaml"), releaseTag); err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Build(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.AsYaml()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), "${") {
				t.Errorf("build output still holds ${...}:\n%s", out)
			}
			job := one(t, m, "Job")
			dep := one(t, m, "Deployment")
			jobName := app + "-migration-" + releaseTag
			if job.GetName() != jobName {
				t.Errorf("Job name = %q, want %q", job.GetName(), jobName)
			}
			if got := str(t, dep, "spec.template.spec.initContainers.[name=wait-for-migration].args.1"); got != jobName {
				t.Errorf("init args[1] = %q, want %q", got, jobName)
			}
			if got := str(t, dep, "spec.template.spec.initContainers.[name=wait-for-migration].args.0"); got != "job-wr" {
				t.Errorf("init args[0] = %q, want job-wr", got)
			}
			if got, want := str(t, dep, "spec.template.spec.containers.[name="+app+"].image"), "registry.example.com:5000/acme/"+app+":"+releaseTag; got != want {
				t.Errorf("service image = %q, want %q", got, want)
			}
			if got, want := str(t, job, "spec.template.spec.containers.[name=migrate].image"), "registry.example.com:5000/acme/"+app+"-migration:"+releaseTag; got != want {
				t.Errorf("migration image = %q, want %q", got, want)
			}
			if ji, di := index(m, "Job"), index(m, "Deployment"); ji > di {
				t.Errorf("Job at position %d, Deployment at %d: Job must come first", ji, di)
			}
			if got := job.GetAnnotations()[manifest.ForceAnnotation]; got != "Enabled" {
				t.Errorf("force annotation = %q, want Enabled", got)
			}
			if got := str(t, job, "spec.backoffLimit"); got != "0" {
				t.Errorf("backoffLimit = %s, want 0", got)
			}
			// Issue 21: no TTL, so the migration runs once per release (Flux prunes the
			// previous release's Job; a TTL made Flux re-create and re-run it every interval).
			if f, _ := job.Pipe(yaml.Lookup("spec", "ttlSecondsAfterFinished")); f != nil {
				t.Errorf("the scaffold sets ttlSecondsAfterFinished: %s", f.YNode().Value)
			}
			if got := str(t, job, "spec.template.spec.restartPolicy"); got != "Never" {
				t.Errorf("restartPolicy = %q, want Never", got)
			}
			jobEnv := field(t, job, "spec.template.spec.containers.[name=migrate].envFrom")
			depEnv := field(t, dep, "spec.template.spec.containers.[name="+app+"].envFrom")
			if !reflect.DeepEqual(jobEnv, depEnv) || jobEnv == nil {
				t.Errorf("envFrom differs: job %v, service %v", jobEnv, depEnv)
			}
			if got := str(t, dep, "spec.template.spec.serviceAccountName"); got != app {
				t.Errorf("serviceAccountName = %q, want %q", got, app)
			}
			for _, r := range m.Resources() {
				if r.GetNamespace() != "shop" && r.GetKind() != "Namespace" {
					t.Errorf("%s/%s namespace = %q, want shop", r.GetKind(), r.GetName(), r.GetNamespace())
				}
			}
		})
	}
}

func TestRenderRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "deployment.yaml")
	if err := os.WriteFile(existing, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := manifest.Render(dir, spec("my-shop"))
	if !errors.Is(err, manifest.ErrExists) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("Render over existing = %v, want ErrExists naming --force", err)
	}
	entries, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(existing); string(b) != "mine\n" || len(entries) != 1 {
		t.Errorf("Render wrote despite refusing: %d entries", len(entries))
	}
	if _, err := manifest.Render(dir, spec("my-shop"), manifest.WithForce()); err != nil {
		t.Fatalf("Render with force: %v", err)
	}
	if b, _ := os.ReadFile(existing); string(b) == "mine\n" {
		t.Error("WithForce did not overwrite")
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*manifest.Spec)
		wantErr string
	}{
		{"no app", func(s *manifest.Spec) { s.App = "" }, "app: required"},
		{"uppercase app", func(s *manifest.Spec) { s.App = "MyShop" }, `invalid app name "MyShop"`},
		{"app too long for job name", func(s *manifest.Spec) { s.App = strings.Repeat("x", 50) }, "the limit is 63"},
		{"image with tag", func(s *manifest.Spec) { s.Image = "r.example.com/app:v1" }, "has a tag; give the repository only"},
		{"image with digest", func(s *manifest.Spec) { s.Image = "r.example.com/app@sha256:abc" }, "has a digest"},
		{"no image", func(s *manifest.Spec) { s.Image = "" }, "image: required"},
		{"no migration command", func(s *manifest.Spec) { s.MigrationCommand = nil }, "migrationCommand: required"},
		{"bad namespace", func(s *manifest.Spec) { s.Namespace = "Shop_1" }, `namespace "Shop_1"`},
		{"bad port", func(s *manifest.Spec) { s.Port = 70000 }, "port 70000: must be 1-65535"},
		{"bad waiter mode", func(s *manifest.Spec) { s.WaiterMode = "pod" }, `waiterMode "pod"`},
		{"bad tag", func(s *manifest.Spec) { s.Tag = "V1" }, "must be lowercase"},
		{"bad secret", func(s *manifest.Spec) { s.Secret = "No_Secret" }, `secret "No_Secret"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec("my-shop")
			tt.mutate(&s)
			dir := t.TempDir()
			_, err := manifest.Render(dir, s)
			if !errors.Is(err, manifest.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Render = %v, want ErrInvalidSpec containing %q", err, tt.wantErr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("Render wrote %d files for an invalid spec", len(entries))
			}
		})
	}
}

func one(t *testing.T, m resmap.ResMap, kind string) *yaml.RNode {
	t.Helper()
	var found []*yaml.RNode
	for _, r := range m.Resources() {
		if r.GetKind() == kind {
			found = append(found, &r.RNode)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s, found %d", kind, len(found))
	}
	return found[0]
}

func index(m resmap.ResMap, kind string) int {
	for i, r := range m.Resources() {
		if r.GetKind() == kind {
			return i
		}
	}
	return -1
}

func field(t *testing.T, n *yaml.RNode, path string) any {
	t.Helper()
	f, err := n.Pipe(yaml.Lookup(utils.SmarterPathSplitter(path, ".")...))
	if err != nil || f == nil {
		t.Fatalf("%s: field %s not found (%v)", n.GetName(), path, err)
	}
	var v any
	if err := f.YNode().Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func str(t *testing.T, n *yaml.RNode, path string) string {
	t.Helper()
	f, err := n.Pipe(yaml.Lookup(utils.SmarterPathSplitter(path, ".")...))
	if err != nil || f == nil {
		t.Fatalf("%s: field %s not found (%v)", n.GetName(), path, err)
	}
	return f.YNode().Value
}

// TestFluxFile: the Flux objects point at the artifact repository of the naming rule,
// follow the default tag format and target the app's namespace; bad input is refused.
func TestFluxFile(t *testing.T) {
	spec := manifest.Spec{App: "shop", Namespace: "shop", Image: "registry.gitlab.com/acme/shop/shop", MigrationCommand: []string{"m"}}
	b, err := manifest.FluxFile(manifest.FluxFromSpec(spec.WithDefaults()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`url: "oci://registry.gitlab.com/acme/shop/shop/manifests"`, `semver: ">=1.0.0"`, `targetNamespace: "shop"`,
		"kind: OCIRepository", "kind: Kustomization", "prune: true", "wait: true", `namespace: "flux-system"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("flux file lacks %s:\n%s", want, b)
		}
	}
	if _, err := manifest.FluxFile(manifest.FluxSpec{App: "Shop!", ArtifactRepo: "x"}); !errors.Is(err, manifest.ErrInvalidSpec) {
		t.Errorf("bad flux spec = %v", err)
	}
}

// TestRenderTTL: --ttl (for folders applied without prune) still writes the TTL.
func TestRenderTTL(t *testing.T) {
	f, err := manifest.Files(manifest.Spec{App: "shop", Image: "r.example.com/shop", MigrationCommand: []string{"m"}, TTLSeconds: 600})
	if err != nil || !strings.Contains(string(f["migration-job.yaml"]), "\n  ttlSecondsAfterFinished: 600\n") {
		t.Errorf("migration-job.yaml (%v):\n%s", err, f["migration-job.yaml"])
	}
}
