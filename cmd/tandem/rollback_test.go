package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/preflight"
	"github.com/tandem-ci/tandem/pkg/release"
)

// TestRollback (issue 21): examples/go-postgres released as v1 (adds a column), then v2
// (a compatible change). `tandem rollback` proves v1 on v2's schema on a throwaway
// PostgreSQL, then releases a new tag whose images are v1's digests (tagged in the
// registry, nothing built), commits it naming the target, and pushes the artifact. A v3
// that drops a column v1 reads makes the next rollback refuse before any registry or git
// write, naming the failing check.
func TestRollback(t *testing.T) {
	requirePostgres(t)
	reg := testregistry.New(t, "", "")
	registry := reg.Host + "/tandem"
	files := exampleK8s(t, registry)
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", files))
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	t.Setenv("CI_REGISTRY_IMAGE", "")
	t.Setenv("CI_PROJECT_URL", "")
	common := []string{"--app", "notes", "--registry", registry, "--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci", "--checkout", t.TempDir()}
	ship := func(source, tag string) {
		t.Helper()
		if out, err := run(t, append([]string{"release", "--source", source, "--package", "./cmd/notes", "--tag", tag}, common...)...); err != nil {
			t.Fatalf("release %s: %v\n%s", tag, err, out)
		}
	}
	rollback := func(tag string, extra ...string) (string, error) {
		return run(t, append(append([]string{"rollback", "--tag", tag, "--compat-check", "/notes"}, common...), extra...)...)
	}
	pinned := "ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;"
	index := "CREATE INDEX notes_created_at ON notes (created_at);"
	ship(exampleWith(t, pinned), "v1.1.0")
	ship(exampleWith(t, pinned, index), "v1.2.0")

	// --dry-run: the proof runs, nothing is written.
	writes, head := reg.Writes.Load(), git.Git(t, "rev-parse", "main")
	out, err := rollback("v1.3.0", "--dry-run")
	if err != nil || !strings.Contains(out, "v1.1.0 proved on the live schema of v1.2.0") || !strings.Contains(out, "images   planned") {
		t.Fatalf("rollback --dry-run: %v\n%s", err, out)
	}
	if reg.Writes.Load() != writes || git.Git(t, "rev-parse", "main") != head {
		t.Errorf("rollback --dry-run wrote: %d registry writes %v, main %s -> %s", reg.Writes.Load()-writes, reg.Written()[writes:], head, git.Git(t, "rev-parse", "main"))
	}

	out, err = rollback("v1.3.0", "-o", "json")
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	var res release.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rb := res.Rollback; rb == nil || rb.Live != "v1.2.0" || rb.Target != "v1.1.0" || rb.TargetCommit == "" {
		t.Errorf("rollback found %+v, want live v1.2.0, target v1.1.0 with its commit", rb)
	}
	var phases []string
	for _, p := range res.Preflight.Phases {
		phases = append(phases, p.Name+" "+string(p.Status))
	}
	if strings.Join(phases, ", ") != "database passed, live passed, migrate passed, rerun skipped, compat passed" {
		t.Errorf("proof phases: %v", phases)
	}
	var steps []string
	for _, s := range res.Steps {
		steps = append(steps, s.Name)
		t.Logf("  %-9s %-9s %8s  %s", s.Name, s.Status, s.Duration.Round(time.Millisecond), s.Detail)
	}
	for _, p := range res.Preflight.Phases {
		t.Logf("    %s", p.Line())
	}
	t.Logf("rollback v1.2.0 -> v1.1.0 as v1.3.0: %s", res.Duration.Round(time.Millisecond))
	if strings.Join(steps, " ") != "preflight images commit artifact" {
		t.Errorf("steps ran in order %v, want the proof first", steps)
	}
	// The new tag names v1's digests: nothing was built.
	for _, repo := range []string{registry + "/notes", registry + "/notes-migration"} {
		v1, err1 := crane.Digest(repo + ":v1.1.0")
		v3, err3 := crane.Digest(repo + ":v1.3.0")
		if err1 != nil || err3 != nil || v1 != v3 {
			t.Errorf("%s: v1.3.0 = %s (%v), want v1.1.0's %s (%v)", repo, v3, err3, v1, err1)
		}
	}
	if msg := git.Git(t, "log", "-1", "--format=%B", "main"); !strings.HasPrefix(msg, "ci: roll notes back to v1.1.0 as v1.3.0 [skip ci]") || !strings.Contains(msg, "service:   "+registry+"/notes:v1.1.0@sha256:") {
		t.Errorf("rollback commit message:\n%s", msg)
	}
	if vars := git.Git(t, "show", "main:k8s/deployment-variables.yaml"); !strings.Contains(vars, `IMAGE_TAG: "v1.3.0"`) {
		t.Errorf("variables file on main:\n%s", vars)
	}
	if _, err := crane.Digest(registry + "/notes/manifests:v1.3.0"); err != nil {
		t.Errorf("no artifact v1.3.0: %v", err)
	}

	// v3 drops a column v1 reads: rolling back from it is refused before any write.
	ship(exampleWith(t, pinned, index, "ALTER TABLE notes DROP COLUMN created_at;"), "v1.4.0")
	writes, head = reg.Writes.Load(), git.Git(t, "rev-parse", "main")
	out, err = rollback("v1.5.0")
	if err == nil || !strings.Contains(err.Error(), "rollback refused") || !strings.Contains(err.Error(), "rollback target is incompatible with the live schema") ||
		!strings.Contains(err.Error(), "the way out is forward") || !strings.Contains(out+err.Error(), `column "created_at" does not exist`) {
		t.Errorf("rollback from a schema the target cannot read = %v\n%s", err, out)
	}
	t.Logf("refused rollback:\n%s\n%v", out, err)
	if !strings.Contains(out, "compat    failed") {
		t.Errorf("the output does not show the failing check:\n%s", out)
	}
	if reg.Writes.Load() != writes || git.Git(t, "rev-parse", "main") != head {
		t.Errorf("a refused rollback wrote: %v, main %s -> %s", reg.Written()[writes:], head, git.Git(t, "rev-parse", "main"))
	}

	// Bad input: refused before anything runs or is written.
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"target gone", []string{"--to", "v0.9.0"}, "the target v0.9.0: finding image " + registry + "/notes:v0.9.0"},
		{"target is live", []string{"--to", "v1.4.0"}, "v1.4.0 is the live release already"},
		{"tag not newer", []string{"--tag", "v1.0.0"}, "the new tag v1.0.0 is not newer than the live v1.4.0"},
		{"bad target", []string{"--to", "bad tag!"}, "rollback target: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			writes := reg.Writes.Load()
			args := append([]string{"rollback"}, common...)
			if !slices.Contains(c.args, "--tag") {
				args = append(args, "--tag", "v1.5.0")
			}
			out, err := run(t, append(args, c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("rollback %v = %v, want %q\n%s", c.args, err, c.want, out)
			}
			if reg.Writes.Load() != writes || git.Git(t, "rev-parse", "main") != head {
				t.Errorf("wrote: %v", reg.Written()[writes:])
			}
		})
	}
}

// TestRollbackLoop (issue 21) on the local control plane with the real source- and
// kustomize-controller: examples/go-postgres released as v1 (adds a column) and v2 (adds
// an index), each migration Job's pod run for real against one PostgreSQL by the test's
// kubelet; then `tandem rollback --reconcile --watch`. The Deployment runs v1's service
// digest under the new tag, the database keeps v2's schema, and every migration ran once.
func TestRollbackLoop(t *testing.T) {
	testcluster.RequireFlux(t)
	requirePostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := testregistry.New(t, "", "")
	registry := reg.Host + "/tandem"
	files := exampleK8s(t, registry)
	// No node runs the migration's pod: the test's kubelet below does, for real.
	job := filepath.Join(t.TempDir(), "migration-job.yaml")
	os.WriteFile(job, files["migration-job.yaml"], 0o644)
	if err := testcluster.KeepOffNodes(job); err != nil {
		t.Fatal(err)
	}
	files["migration-job.yaml"], _ = os.ReadFile(job)
	l := newLoopWith(t, "1h", reg, manifest.Spec{App: "notes", Namespace: "notes", Image: registry + "/notes"}, files)

	pg, err := preflight.StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	runner, err := preflight.NewLocal(nil, 0, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	var mu sync.Mutex
	runs := map[string]int{}
	go testcluster.RunJobPods(ctx, l.c.Kube, "notes", func(ctx context.Context, pod *corev1.Pod) error {
		c := pod.Spec.Containers[0]
		out, err := runner.Run(ctx, preflight.Container{Image: c.Image, Command: c.Command, Args: c.Args}, []string{"DATABASE_URL=" + pg.URL})
		mu.Lock()
		runs[pod.Labels["batch.kubernetes.io/job-name"]]++
		mu.Unlock()
		t.Logf("ran %s (%s): %v\n%s", pod.Name, c.Image, err, out)
		return err
	})

	common := []string{"--app", "notes", "--registry", registry, "--repo-url", l.git.RepoURL, "--branch", "main", "--git-username", "ci",
		"--checkout", t.TempDir(), "--insecure", "--reconcile", "--watch", "--kubeconfig", l.c.Kubeconfig, "-n", "notes", "--timeout", "90s"}
	pinned := "ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;"
	index := "CREATE INDEX notes_created_at ON notes (created_at);"
	for _, r := range []struct {
		tag string
		ups []string
	}{{"v1.1.0", []string{pinned}}, {"v1.2.0", []string{pinned, index}}} {
		if out, err := run(t, append([]string{"release", "--source", exampleWith(t, r.ups...), "--package", "./cmd/notes", "--tag", r.tag}, common...)...); err != nil {
			t.Fatalf("release %s: %v\n%s\nlogs in %s", r.tag, err, out, l.c.LogDir())
		}
	}
	v2, err := preflight.DumpSchema(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v2, "notes_created_at") || !strings.Contains(v2, "pinned") {
		t.Fatalf("after v1.2.0's Job the schema lacks its changes:\n%s", v2)
	}

	start := time.Now()
	out, err := run(t, append([]string{"rollback", "--tag", "v1.3.0", "--compat-check", "/notes", "-o", "json"}, common...)...)
	if err != nil {
		t.Fatalf("rollback: %v\n%s\nlogs in %s", err, out, l.c.LogDir())
	}
	var res release.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("rollback v1.2.0 -> v1.1.0 as v1.3.0, to Deployment ready: %s", time.Since(start).Round(time.Millisecond))
	for _, s := range res.Steps {
		t.Logf("  %-9s %-6s %8s  %s", s.Name, s.Status, s.Duration.Round(time.Millisecond), s.Detail)
	}
	for _, p := range res.Preflight.Phases {
		t.Logf("    %s", p.Line())
	}

	d, err := l.c.Kube.AppsV1().Deployments("notes").Get(ctx, "notes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != registry+"/notes:v1.3.0" || d.Status.AvailableReplicas < 1 {
		t.Errorf("Deployment runs %s with %d available, want %s/notes:v1.3.0", img, d.Status.AvailableReplicas, registry)
	}
	v1, err1 := crane.Digest(registry + "/notes:v1.1.0")
	v3, err3 := crane.Digest(registry + "/notes:v1.3.0")
	if err1 != nil || err3 != nil || v1 != v3 {
		t.Errorf("the rollback's service image is %s (%v), want v1.1.0's digest %s (%v)", v3, err3, v1, err1)
	}
	after, err := preflight.DumpSchema(ctx, pg.URL)
	if err != nil || after != v2 {
		t.Errorf("the rollback changed the schema (%v):\n%s", err, diffLines(v2, after))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, j := range []string{"notes-migration-v1.1.0", "notes-migration-v1.2.0", "notes-migration-v1.3.0"} {
		if runs[j] != 1 {
			t.Errorf("Job %s ran %d times, want once (all: %v)", j, runs[j], runs)
		}
	}
	// goose recorded each migration once: none was applied twice.
	psql := filepath.Join(requirePostgres(t), "psql")
	dup, err := exec.Command(psql, pg.URL, "-Atc", "SELECT version_id FROM goose_db_version GROUP BY version_id HAVING count(*) > 1").CombinedOutput()
	if err != nil || strings.TrimSpace(string(dup)) != "" {
		t.Errorf("migrations applied twice: %q (%v)", dup, err)
	}
}

// diffLines lists the lines only in a ("- ") and only in b ("+ ").
func diffLines(a, b string) string {
	in := func(s, l string) bool { return slices.Contains(strings.Split(s, "\n"), l) }
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !in(b, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !in(a, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
