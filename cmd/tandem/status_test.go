package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/internal/testgit"
	"github.com/tandem-ci/tandem/internal/testregistry"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/status"
)

// TestStatusWithoutCluster (issue 24): against the loopback registry and git server only,
// `tandem status` answers for git and the registry and says the cluster was not asked;
// a branch ahead of its artifact is inconsistent (exit 3); --history lists the releases
// and whether their images are still in the registry.
func TestStatusWithoutCluster(t *testing.T) {
	reg := testregistry.New(t, "", "")
	k8s, err := manifest.Files(manifest.Spec{App: "shop", Image: reg.Host + "/shop", MigrationCommand: []string{"/app/hello", "migrate"}, Tag: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	git := testgit.New(t, "ci", "git-token", testgit.Under("k8s", k8s))
	t.Setenv("TANDEM_GIT_TOKEN", "git-token")
	t.Setenv("CI_PROJECT_URL", "")
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	common := []string{"--app", "shop", "--registry", reg.Host, "--repo-url", git.RepoURL, "--branch", "main", "--git-username", "ci"}
	if out, err := run(t, append([]string{"release", "--source", hello, "--checkout", t.TempDir(), "--tag", "v1.1.0"}, common...)...); err != nil {
		t.Fatalf("release: %v\n%s", err, out)
	}
	start := time.Now()
	out, err := run(t, append([]string{"status", "-o", "json", "--history", "3"}, common...)...)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var rep status.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.State != status.StateConsistent || rep.Tag != "v1.1.0" || rep.Cluster != nil || !strings.Contains(rep.Verdict, "the cluster was not asked") ||
		!strings.HasPrefix(rep.Images.Service, reg.Host+"/shop:v1.1.0@sha256:") || !strings.Contains(rep.Artifact.Revision, "main@sha1:") {
		t.Errorf("status = %+v", rep)
	}
	if len(rep.History) != 2 || rep.History[0].Tag != "v1.1.0" || !rep.History[0].InRegistry || rep.History[1].Tag != "v1.0.0" || rep.History[1].InRegistry {
		t.Errorf("history = %+v", rep.History)
	}
	t.Logf("status without a cluster answered in %s (in-process: %s)", took.Round(time.Millisecond), rep.Duration.Round(time.Millisecond))

	// The branch moves on without an artifact: inconsistent, exit 3, saying what is missing.
	if out, err := run(t, append([]string{"commit", "--tag", "v1.2.0"}, common...)...); err != nil {
		t.Fatalf("commit: %v\n%s", err, out)
	}
	out, err = run(t, append([]string{"status"}, common...)...)
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 3 || !strings.Contains(out, "v1.2.0: images of v1.2.0 missing from the registry") || !strings.Contains(out, "cluster    not asked") {
		t.Errorf("status of a branch ahead of its artifact = %v\n%s", err, out)
	}
}

// status runs `tandem status -o json` on the loop and returns the report and exit code.
func (l *loop) status(t *testing.T) (status.Report, int) {
	t.Helper()
	out, err := run(t, "status", "--app", "shop", "--registry", l.reg.Host, "--repo-url", l.git.RepoURL, "--branch", "main", "--git-username", "ci",
		"--insecure", "--kubeconfig", l.c.Kubeconfig, "-n", "shop", "-o", "json")
	code := 0
	var exit *exitError
	if errors.As(err, &exit) {
		code = exit.code
	} else if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var rep status.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep, code
}

// edit commits a change of the branch's k8s/ folder.
func (l *loop) edit(t *testing.T, msg string, change func(k8s string)) {
	t.Helper()
	work := t.TempDir()
	for _, args := range [][]string{{"clone", "-q", "-b", "main", l.git.Bare, work}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	change(filepath.Join(work, "k8s"))
	for _, args := range [][]string{{"-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qam", msg}, {"push", "-q", "origin", "main"}} {
		if out, err := exec.Command("git", append([]string{"-C", work}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// TestStatusLoop (issue 24) on the local control plane with the real Flux controllers:
// a healthy release is consistent with the right digests; one pushed but not reconciled
// is "not yet applied"; a failed migration names the Job's reason; pods on two digests
// mid-rollout are shown as such.
func TestStatusLoop(t *testing.T) {
	l := newLoop(t, "1h")
	ctx := context.Background()
	out, err := l.release("v1.1.0")
	if err != nil {
		t.Fatalf("release v1.1.0: %v\n%s", err, out)
	}
	// release --watch -o json ends with the cluster's verdict.
	var released struct{ Status *status.Report }
	if err := json.Unmarshal([]byte(out), &released); err != nil || released.Status == nil || released.Status.Verdict != "live v1.1.0, consistent" {
		t.Errorf("release --watch -o json carries status %+v (%v)", released.Status, err)
	}
	rep, code := l.status(t)
	svcDigest := rep.Images.Service[strings.Index(rep.Images.Service, "@")+1:]
	if code != 0 || rep.Verdict != "live v1.1.0, consistent" || rep.Cluster == nil || len(rep.Cluster.Rollout.Digests) != 1 ||
		rep.Cluster.Rollout.Digests[0].Digest != svcDigest || rep.Cluster.Rollout.Digests[0].Running != 2 || rep.Cluster.Job.State != "complete" {
		t.Errorf("healthy release: exit %d, %+v", code, rep)
	}
	t.Logf("healthy: %s (looked in %s)", rep.Verdict, rep.Duration.Round(time.Millisecond))

	// Pushed, not reconciled (the interval is 1h): progressing, exit 2.
	hello, _ := filepath.Abs("../../pkg/image/testdata/hello")
	if out, err := run(t, "release", "--app", "shop", "--registry", l.reg.Host, "--source", hello, "--checkout", t.TempDir(), "--repo-url", l.git.RepoURL,
		"--branch", "main", "--git-username", "ci", "--tag", "v1.2.0", "--insecure"); err != nil {
		t.Fatalf("release v1.2.0: %v\n%s", err, out)
	}
	rep, code = l.status(t)
	if code != 2 || rep.State != status.StateProgressing || !strings.Contains(rep.Verdict, "artifact v1.2.0 not yet applied") {
		t.Errorf("pushed, not reconciled: exit %d, %s", code, rep.Verdict)
	}
	t.Logf("not reconciled: %s", rep.Verdict)
	if out, err := run(t, "reconcile", "--source", "shop", "--kubeconfig", l.c.Kubeconfig, "--timeout", "60s"); err != nil {
		t.Fatalf("reconcile: %v\n%s", err, out)
	}

	// A failed migration: the verdict names the Job's reason, exit 4.
	l.edit(t, "migration that fails", func(k8s string) {
		if err := testcluster.KeepOffNodes(filepath.Join(k8s, "migration-job.yaml")); err != nil {
			t.Fatal(err)
		}
	})
	failCtx, cancel := context.WithCancel(ctx)
	go testcluster.FailJobPod(failCtx, l.c.Kube, "shop", "shop-migration-v1.3.0")
	l.release("v1.3.0") // fails: the point
	cancel()
	rep, code = l.status(t)
	if code != 4 || !strings.Contains(rep.Verdict, "migration failed") || !strings.Contains(rep.Verdict, "BackoffLimitExceeded") {
		t.Errorf("failed migration: exit %d, %s", code, rep.Verdict)
	}
	t.Logf("failed migration: %s", rep.Verdict)

	// A rollout whose new pods cannot be scheduled: pods on two digests.
	l.edit(t, "pods of the next release stay pending", func(k8s string) {
		os.WriteFile(filepath.Join(k8s, "migration-job.yaml"), must(manifest.Files(manifest.Spec{App: "shop", Namespace: "shop", Image: l.reg.Host + "/shop",
			MigrationCommand: []string{"/app/hello", "migrate"}, WaiterImage: manifest.TandemWaiterImage, WaiterLogs: true, Tag: "v1.0.0"}))["migration-job.yaml"], 0o644)
		if err := testcluster.KeepOffNodes(filepath.Join(k8s, "deployment.yaml")); err != nil {
			t.Fatal(err)
		}
	})
	other := filepath.Join(t.TempDir(), "hello")
	os.CopyFS(other, os.DirFS(hello))
	os.WriteFile(filepath.Join(other, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello again\") }\n"), 0o644)
	if out, err := run(t, "release", "--app", "shop", "--registry", l.reg.Host, "--source", other, "--checkout", t.TempDir(), "--repo-url", l.git.RepoURL,
		"--branch", "main", "--git-username", "ci", "--tag", "v1.4.0", "--insecure", "--reconcile", "--flux-kustomization", "-", "--kubeconfig", l.c.Kubeconfig, "--timeout", "60s"); err != nil {
		t.Fatalf("release v1.4.0: %v\n%s", err, out)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep, code = l.status(t)
		if strings.Contains(rep.Verdict, "pods on 2 digests") || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if rep.State == status.StateConsistent || !strings.Contains(rep.Verdict, "rollout in progress: pods on 2 digests") || len(rep.Cluster.Rollout.Digests) != 2 {
		t.Errorf("mid-rollout: exit %d, %s %+v", code, rep.Verdict, rep.Cluster)
	}
	t.Logf("mid-rollout: %s", rep.Verdict)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
