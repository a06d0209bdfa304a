package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	corev1 "k8s.io/api/core/v1"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

// TestGitOpsLoop runs the whole loop on one machine with the real Flux controllers:
// tandem release pushes the artifact, tandem reconcile makes source-controller fetch it
// (status revision = the tag and digest pushed) and kustomize-controller apply it, the
// Job runs, the Deployment rolls out, tandem watch reports it. Then: a re-run changes
// nothing, an older tag pushed after a newer one leaves the cluster on the newer, and a
// release whose migration fails fails the pipeline with the Job's reason.
func TestGitOpsLoop(t *testing.T) {
	testcluster.RequireFlux(t)
	c := testcluster.ForTest(t, testcluster.WithControllers(), testcluster.WithFlux())
	ctx := context.Background()
	reg := testregistry.New(t, "", "") // source-controller pulls anonymously
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	spec := manifest.Spec{App: "shop", Namespace: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"/app/hello", "migrate"},
		WaiterImage: manifest.TandemWaiterImage, WaiterLogs: true, Tag: "v1.0.0"}
	k8s, err := manifest.Files(spec)
	if err != nil {
		t.Fatal(err)
	}
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", k8s))

	// The scaffolded Flux objects, applied once (interval 1h: only the reconcile request
	// makes Flux look now).
	fs := manifest.FluxFromSpec(spec.WithDefaults())
	fs.Insecure, fs.Interval, fs.Timeout = true, "1h", "45s"
	fluxYAML, err := manifest.FluxFile(fs)
	if err != nil {
		t.Fatal(err)
	}
	fluxDir := t.TempDir()
	os.WriteFile(filepath.Join(fluxDir, "shop.yaml"), fluxYAML, 0o644)
	os.WriteFile(filepath.Join(fluxDir, "kustomization.yaml"), []byte("resources: [shop.yaml]\n"), 0o644)
	m, err := manifest.Build(context.Background(), fluxDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Apply(ctx, c.Config, m); err != nil {
		t.Fatal(err)
	}

	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	t.Setenv("CI_PROJECT_URL", "")
	release := func(tag string, extra ...string) (string, error) {
		args := append([]string{"release", "--app", "shop", "--registry", reg.Host, "--source", hello, "--checkout", t.TempDir(),
			"--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci", "--tag", tag, "--insecure",
			"--reconcile", "--watch", "--kubeconfig", c.Kubeconfig, "-n", "shop", "--timeout", "90s", "-o", "json"}, extra...)
		return run(t, args...)
	}
	ociRevision := func() string {
		o, err := c.Dynamic.Resource(cluster.OCIRepository).Namespace("flux-system").Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rev, _, _ := unstructured.NestedString(o.Object, "status", "artifact", "revision")
		return rev
	}
	jobs := func() int {
		l, err := c.Kube.BatchV1().Jobs("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}

	// 1-2: release, reconcile, Job, rollout.
	start := time.Now()
	out, err := release("v1.1.0")
	if err != nil {
		t.Fatalf("release v1.1.0: %v\n%s\nlogs in %s", err, out, c.LogDir())
	}
	t.Logf("release v1.1.0 to Deployment ready: %s", time.Since(start).Round(time.Millisecond))
	var res struct {
		Artifact struct{ Digest string }
		Steps    []struct {
			Name     string
			Duration time.Duration
		}
		Rollout    struct{ Available, Replicas int32 }
		Reconciled []struct {
			Object, Revision string
			Duration         time.Duration
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, s := range res.Steps {
		t.Logf("  %-9s %s", s.Name, s.Duration.Round(time.Millisecond))
	}
	for _, r := range res.Reconciled {
		t.Logf("  reconcile request -> Ready: %s at %s after %s (its interval is 1h)", r.Object, r.Revision, r.Duration.Round(time.Millisecond))
	}
	_, digest, _ := strings.Cut(res.Artifact.Digest, "@")
	if rev := ociRevision(); rev != "v1.1.0@"+digest {
		t.Errorf("OCIRepository revision = %q, want v1.1.0@%s", rev, digest)
	}
	if res.Rollout.Available != 2 || res.Rollout.Replicas != 2 {
		t.Errorf("rollout = %+v", res.Rollout)
	}

	// 4: re-running the released tag changes nothing.
	before, nJobs := ociRevision(), jobs()
	if out, err := release("v1.1.0"); err != nil {
		t.Fatalf("re-run v1.1.0: %v\n%s", err, out)
	}
	if ociRevision() != before || jobs() != nJobs {
		t.Errorf("re-run changed the cluster: revision %s -> %s, jobs %d -> %d", before, ociRevision(), nJobs, jobs())
	}

	// 5: an older tag pushed after the newer one leaves the cluster on the newer.
	if out, err := release("v1.0.5", "--push-superseded"); err != nil {
		t.Fatalf("older release: %v\n%s", err, out)
	}
	if rev := ociRevision(); !strings.HasPrefix(rev, "v1.1.0@") {
		t.Errorf("after an older tag, OCIRepository revision = %s, want v1.1.0", rev)
	}

	// 3: a release whose migration fails. Its Job is kept off kwok's node (kwok runs no
	// containers) and its pod marked Failed, as a kubelet does when the command exits 1.
	work := t.TempDir()
	for _, args := range [][]string{{"clone", "-q", git.Bare, work}, {"-C", work, "checkout", "-q", "main"}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := testcluster.KeepOffNodes(filepath.Join(work, "k8s", "migration-job.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", "migration that fails"}, {"push", "-q", "origin", "main"}} {
		if out, err := exec.Command("git", append([]string{"-C", work}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	failCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go testcluster.FailJobPod(failCtx, c.Kube, "shop", "shop-migration-v1.2.0")
	// The pipeline fails: at the reconcile when the Kustomization's health check (wait:
	// true) already reports the failed Job, else at the watch with the Job's reason.
	out, err = release("v1.2.0")
	if err == nil || !strings.Contains(err.Error(), "shop-migration-v1.2.0") && !strings.Contains(err.Error(), "BackoffLimitExceeded") {
		t.Errorf("release of a failing migration = %v\n%s", err, out)
	}
	t.Logf("release v1.2.0 failed: %v", err)
	if out, err := run(t, "watch", "--app", "shop", "--tag", "v1.2.0", "--kubeconfig", c.Kubeconfig, "-n", "shop", "--timeout", "60s"); err == nil || !strings.Contains(err.Error(), "BackoffLimitExceeded") {
		t.Errorf("tandem watch of the failed release = %v\n%s", err, out)
	}
	if d, err := c.Kube.AppsV1().Deployments("shop").Get(ctx, "shop", metav1.GetOptions{}); err != nil || d.Status.AvailableReplicas < 2 {
		t.Errorf("after the failed migration the Deployment has %d available (%v)", d.Status.AvailableReplicas, err)
	}
}
