package demo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-ci/tandem/internal/gitserver"
	"github.com/tandem-ci/tandem/internal/localcluster"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// ErrNoControlPlane is returned by --cluster when the local Kubernetes binaries are missing.
var ErrNoControlPlane = errors.New("local Kubernetes and Flux binaries not built: run `bash hack/testenv.sh` once (about 25 minutes), then retry")

// ClusterResult is the cluster part of the demo.
type ClusterResult struct {
	Good         cluster.Rollout  `json:"good"`
	GoodWaiter   string           `json:"goodWaiter"`
	FailedJob    waiter.JobResult `json:"failedJob"`
	FailedWaiter string           `json:"failedWaiter"`
	// FailFast is the time from the migration pod's failure to tandem reporting it.
	FailFast time.Duration `json:"failFast"`
	// APIWarnings are the API server's warnings while applying.
	APIWarnings []string `json:"apiWarnings,omitempty"`
}

func (r *run) cluster(ctx context.Context) error {
	t := time.Now()
	c, err := localcluster.Start(localcluster.WithControllers(), localcluster.WithFlux())
	if err != nil {
		return err
	}
	defer c.Stop()
	r.step("cluster", time.Since(t), "kube-apiserver, etcd, controller-manager, scheduler, kwok (fake node %s), source-controller and kustomize-controller", localcluster.NodeName)
	ns := r.cfg.App
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	cr := &ClusterResult{}
	r.res.Cluster = cr

	// The Flux objects tandem init scaffolds, applied once: the OCIRepository follows the
	// newest release tag in the local registry; the Kustomization applies it.
	t = time.Now()
	fs := manifest.FluxSpec{App: r.cfg.App, TargetNamespace: ns, ArtifactRepo: r.plan.ArtifactRepository, Insecure: true, Interval: "1h", Timeout: "60s"}
	if err := r.applyFlux(ctx, c, fs); err != nil {
		return err
	}
	targets := release.FluxTargets(localcluster.FluxNamespace, r.cfg.App, "")
	saClientOf := func() (kube.Interface, error) { return c.ServiceAccountClient(ctx, ns, r.cfg.App) }

	// Release v1.1.0 (pushed above): tandem reconcile, then the Job gates the Deployment.
	rec, err := cluster.Reconcile(ctx, c.Dynamic, 2*time.Minute, targets...)
	if err != nil {
		return fmt.Errorf("reconciling v1.1.0: %w (controller logs in %s)", err, c.LogDir())
	}
	r.step("flux", time.Since(t), "Flux objects applied; reconcile request -> Ready: %s after %s, %s after %s (interval 1h: only the request made Flux look); revision %s",
		rec[0].Object, rec[0].Duration.Round(time.Millisecond), rec[1].Object, rec[1].Duration.Round(time.Millisecond), rec[0].Revision)
	t = time.Now()
	sa, err := saClientOf()
	if err != nil {
		return err
	}
	gate := make(chan error, 1)
	go func() {
		_, err := cluster.WaitForJob(ctx, sa, ns, r.cfg.App+"-migration-v1.1.0", waiter.WithTimeout(2*time.Minute))
		gate <- err
	}()
	if cr.Good, err = cluster.WatchRelease(ctx, c.Kube, ns, r.cfg.App, "v1.1.0", 2*time.Minute); err != nil {
		return fmt.Errorf("release v1.1.0 in the cluster: %w", err)
	}
	cr.GoodWaiter = exit(<-gate)
	r.step("gate", time.Since(t), "kustomize-controller applied v1.1.0: Job %s complete after %s; waiter (as ServiceAccount %s) %s; Deployment %d/%d available",
		cr.Good.Job.Name, cr.Good.JobWait.Round(time.Millisecond), r.cfg.App, cr.GoodWaiter, cr.Good.Available, cr.Good.Replicas)

	// Release v1.2.0: its migration fails. kwok runs no containers, so the Job is kept off
	// kwok's node (a change committed to the branch) and its pod marked Failed, as a kubelet
	// does when the migration command exits 1.
	if err := r.commitFailingMigration(); err != nil {
		return err
	}
	if _, err := r.release(ctx, "v1.2.0", r.src); err != nil {
		return err
	}
	t = time.Now()
	job := r.cfg.App + "-migration-v1.2.0"
	failedAt := make(chan time.Time, 1)
	go func() { failedAt <- localcluster.FailJobPod(ctx, c.Kube, ns, job) }()
	go func() {
		_, err := cluster.WaitForJob(ctx, sa, ns, job, waiter.WithTimeout(2*time.Minute))
		gate <- err
	}()
	reconciled := make(chan error, 1)
	go func() {
		_, err := cluster.Reconcile(ctx, c.Dynamic, 2*time.Minute, targets...)
		reconciled <- err
	}()
	ro, err := cluster.WatchRelease(ctx, c.Kube, ns, r.cfg.App, "v1.2.0", 2*time.Minute)
	reported := time.Now()
	if !errors.Is(err, waiter.ErrJobFailed) {
		return fmt.Errorf("release v1.2.0 should have failed with its migration, got: %v", err)
	}
	cr.FailedJob = ro.Job
	cr.FailedWaiter = exit(<-gate)
	cr.FailFast = reported.Sub(<-failedAt)
	kerr := <-reconciled
	r.step("fail-fast", time.Since(t), "v1.2.0's migration pod failed (exit 1): tandem watch reported %s %s after the pod failed; waiter %s; Flux: %v. "+
		"With k8s-wait-for every new pod would wait in Init:0/1 and the pipeline would never hear of it",
		ro.Job.Reason, cr.FailFast.Round(time.Millisecond), cr.FailedWaiter, kerr)
	return nil
}

// applyFlux applies the Flux objects for fs.
func (r *run) applyFlux(ctx context.Context, c *localcluster.Cluster, fs manifest.FluxSpec) error {
	b, err := manifest.FluxFile(fs)
	if err != nil {
		return err
	}
	dir := filepath.Join(r.tmp, "flux")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	os.WriteFile(filepath.Join(dir, manifest.FluxFileName(fs.App)), b, 0o644)
	os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: ["+manifest.FluxFileName(fs.App)+"]\n"), 0o644)
	m, err := manifest.Build(ctx, dir)
	if err != nil {
		return err
	}
	applied, err := cluster.Apply(ctx, c.Config, m)
	r.res.Cluster.APIWarnings = append(r.res.Cluster.APIWarnings, applied.Warnings...)
	return err
}

// commitFailingMigration pushes a change to the branch that keeps the migration Job's
// pod off kwok's node, so the demo can fail it the way a kubelet would.
func (r *run) commitFailingMigration() error {
	work := filepath.Join(r.tmp, "work")
	if out, err := gitserver.Git(r.tmp, "clone", "-q", "-c", "http.extraHeader=Authorization: Basic "+basicAuth("demo", "demo-token"), r.repo, work); err != nil {
		return fmt.Errorf("cloning for the failing migration: %w: %s", err, out)
	}
	if err := localcluster.KeepOffNodes(filepath.Join(work, "k8s", "migration-job.yaml")); err != nil {
		return err
	}
	for _, args := range [][]string{{"-c", "user.name=demo", "-c", "user.email=demo@localhost", "commit", "-qam", "demo: a migration that fails"},
		{"-c", "http.extraHeader=Authorization: Basic " + basicAuth("demo", "demo-token"), "push", "-q", "origin", "HEAD:main"}} {
		if out, err := gitserver.Git(work, args...); err != nil {
			return fmt.Errorf("git %s: %w: %s", args[len(args)-3], err, out)
		}
	}
	return nil
}

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

func exit(err error) string {
	if err == nil {
		return "exit 0"
	}
	return "exit 1 (" + err.Error() + ")"
}
