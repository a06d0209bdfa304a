package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	corev1 "k8s.io/api/core/v1"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

// loop is the local control plane with the real Flux controllers, the scaffolded Flux
// objects applied (Kustomization interval as given), a registry and a git server holding
// the scaffolded k8s/ for app shop.
type loop struct {
	c   *testcluster.Cluster
	reg *testregistry.Registry
	git *testgit.Server
	t   *testing.T
}

func newLoop(t *testing.T, interval string) *loop {
	testcluster.RequireFlux(t)
	reg := testregistry.New(t, "", "") // source-controller pulls anonymously
	spec := manifest.Spec{App: "shop", Namespace: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"/app/hello", "migrate"},
		WaiterImage: manifest.TandemWaiterImage, WaiterLogs: true, Tag: "v1.0.0"}
	k8s, err := manifest.Files(spec)
	if err != nil {
		t.Fatal(err)
	}
	return newLoopWith(t, interval, reg, spec, k8s)
}

// newLoopWith starts the loop for the app of spec (its App, Namespace and Image name the
// Flux objects), with k8s as the repository's k8s/ folder.
func newLoopWith(t *testing.T, interval string, reg *testregistry.Registry, spec manifest.Spec, k8s map[string][]byte) *loop {
	testcluster.RequireFlux(t)
	c := testcluster.ForTest(t, testcluster.WithControllers(), testcluster.WithFlux())
	ctx := context.Background()
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: spec.Namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", k8s))

	// The scaffolded Flux objects, applied once (with interval 1h only the reconcile
	// request makes Flux look).
	fs := manifest.FluxFromSpec(spec.WithDefaults())
	fs.Insecure, fs.Interval, fs.Timeout = true, interval, "45s"
	fluxYAML, err := manifest.FluxFile(fs)
	if err != nil {
		t.Fatal(err)
	}
	fluxDir := t.TempDir()
	os.WriteFile(filepath.Join(fluxDir, spec.App+".yaml"), fluxYAML, 0o644)
	os.WriteFile(filepath.Join(fluxDir, "kustomization.yaml"), []byte("resources: ["+spec.App+".yaml]\n"), 0o644)
	m, err := manifest.Build(context.Background(), fluxDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Apply(ctx, c.Config, m); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	t.Setenv("CI_PROJECT_URL", "")
	return &loop{c: c, reg: reg, git: git, t: t}
}

// release runs `tandem release --reconcile --watch` of tag.
func (l *loop) release(tag string, extra ...string) (string, error) {
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	args := append([]string{"release", "--app", "shop", "--registry", l.reg.Host, "--source", hello, "--checkout", l.t.TempDir(),
		"--repo-url", l.git.RepoURL, "--branch", "main", "--git-username", "ci", "--tag", tag, "--insecure",
		"--reconcile", "--watch", "--kubeconfig", l.c.Kubeconfig, "-n", "shop", "--timeout", "90s", "-o", "json"}, extra...)
	return run(l.t, args...)
}

func (l *loop) ociRevision() string {
	o, err := l.c.Dynamic.Resource(cluster.OCIRepository).Namespace("flux-system").Get(context.Background(), "shop", metav1.GetOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	rev, _, _ := unstructured.NestedString(o.Object, "status", "artifact", "revision")
	return rev
}

func (l *loop) jobs() int {
	list, err := l.c.Kube.BatchV1().Jobs("shop").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return len(list.Items)
}

// TestGitOpsLoop runs the whole loop on one machine with the real Flux controllers:
// tandem release pushes the artifact, tandem reconcile makes source-controller fetch it
// (status revision = the tag and digest pushed) and kustomize-controller apply it, the
// Job runs, the Deployment rolls out, tandem watch reports it. Then: a re-run changes
// nothing, an older tag pushed after a newer one leaves the cluster on the newer, and a
// release whose migration fails fails the pipeline with the Job's reason.
func TestGitOpsLoop(t *testing.T) {
	l := newLoop(t, "1h")
	c, ctx, release, ociRevision, jobs := l.c, context.Background(), l.release, l.ociRevision, l.jobs

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
	l.edit(t, "migration that fails", func(k8s string) {
		if err := testcluster.KeepOffNodes(filepath.Join(k8s, "migration-job.yaml")); err != nil {
			t.Fatal(err)
		}
	})
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

// TestExactlyOnce (issue 21): with the scaffold (no ttlSecondsAfterFinished) and a 5 s
// Kustomization interval, the release's migration runs once however many intervals pass
// (one Job, one UID, one pod); a waiter started long after the release passes at once;
// the next release's apply prunes the previous Job.
func TestExactlyOnce(t *testing.T) {
	l := newLoop(t, "5s")
	ctx := context.Background()
	if out, err := l.release("v1.1.0"); err != nil {
		t.Fatalf("release v1.1.0: %v\n%s\nlogs in %s", err, out, l.c.LogDir())
	}
	job, err := l.c.Kube.BatchV1().Jobs("shop").Get(ctx, "shop-migration-v1.1.0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const intervals = 5
	time.Sleep(intervals * 5 * time.Second)
	again, err := l.c.Kube.BatchV1().Jobs("shop").Get(ctx, "shop-migration-v1.1.0", metav1.GetOptions{})
	if err != nil || again.UID != job.UID {
		t.Errorf("after %d intervals the Job is %v (UID %s, was %s): it was re-created and the migration ran again", intervals, err, again.UID, job.UID)
	}
	pods, err := l.c.Kube.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "job-name=shop-migration-v1.1.0"})
	if err != nil || len(pods.Items) != 1 {
		t.Errorf("migration pods of v1.1.0 after %d intervals: %d (%v), want 1", intervals, len(pods.Items), err)
	}
	t.Logf("after %d intervals of 5s: Job shop-migration-v1.1.0 UID unchanged, %d migration pod", intervals, len(pods.Items))
	// A pod scheduled now (scale-up, eviction) finds the Job: its waiter passes at once.
	start := time.Now()
	if out, err := run(t, "wait", "job", "shop-migration-v1.1.0", "--kubeconfig", l.c.Kubeconfig, "-n", "shop", "--timeout", "20s"); err != nil {
		t.Errorf("a waiter started %d intervals after the release: %v\n%s", intervals, err, out)
	}
	t.Logf("a waiter started after %d intervals passed in %s", intervals, time.Since(start).Round(time.Millisecond))
	// The next release prunes the previous Job.
	if out, err := l.release("v1.2.0"); err != nil {
		t.Fatalf("release v1.2.0: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := l.c.Kube.BatchV1().Jobs("shop").Get(ctx, "shop-migration-v1.1.0", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("Job shop-migration-v1.1.0 still exists after the next release (%v): Flux did not prune it", err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := l.jobs(); n != 1 {
		t.Errorf("%d Jobs after the next release, want 1 (shop-migration-v1.2.0)", n)
	}
}
