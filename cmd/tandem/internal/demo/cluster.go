package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/tandem-ci/tandem/internal/localcluster"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/manifest"
)

// ErrNoControlPlane is returned by --cluster when the local Kubernetes binaries are missing.
var ErrNoControlPlane = errors.New("local Kubernetes binaries not built: run `bash hack/testenv.sh` once (about 15 minutes), then retry")

// ClusterResult is the cluster part of the demo.
type ClusterResult struct {
	Good         cluster.Rollout   `json:"good"`
	GoodWaiter   string            `json:"goodWaiter"`
	FailedJob    cluster.JobResult `json:"failedJob"`
	FailedWaiter string            `json:"failedWaiter"`
	// FailFast is the time from the migration pod's failure to tandem reporting it.
	FailFast time.Duration `json:"failFast"`
	// APIWarnings are the API server's warnings while applying.
	APIWarnings []string `json:"apiWarnings,omitempty"`
}

func (r *run) cluster(ctx context.Context) error {
	t := time.Now()
	c, err := localcluster.Start(localcluster.WithControllers())
	if err != nil {
		return err
	}
	defer c.Stop()
	r.step("cluster", time.Since(t), "kube-apiserver, etcd, controller-manager, scheduler and kwok (fake node %s) with Flux CRDs", localcluster.NodeName)
	ns := r.cfg.App
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	cr := &ClusterResult{}
	r.res.Cluster = cr

	// Release v1.1.0: the migration succeeds, the waiter lets the pods start.
	t = time.Now()
	if err := r.apply(ctx, c, "v1.1.0", false); err != nil {
		return err
	}
	waiter, err := serviceAccount(ctx, c, ns, r.cfg.App)
	if err != nil {
		return err
	}
	gate := make(chan error, 1)
	go func() {
		_, err := cluster.WaitForJob(ctx, waiter, ns, r.cfg.App+"-migration-v1.1.0", cluster.WithTimeout(2*time.Minute))
		gate <- err
	}()
	if cr.Good, err = cluster.WatchRelease(ctx, c.Kube, ns, r.cfg.App, "v1.1.0", 2*time.Minute); err != nil {
		return fmt.Errorf("release v1.1.0 in the cluster: %w", err)
	}
	cr.GoodWaiter = exit(<-gate)
	r.step("gate", time.Since(t), "v1.1.0 applied (%d objects): Job %s complete after %s; waiter (as ServiceAccount %s) %s; Deployment %d/%d available",
		r.applied, cr.Good.Job.Name, cr.Good.JobWait.Round(time.Millisecond), r.cfg.App, cr.GoodWaiter, cr.Good.Available, cr.Good.Replicas)

	for _, w := range cr.APIWarnings {
		r.note("the API server warned while applying: %s (Job names carry the semver tag's dots; pods get generated names, so this is cosmetic)", w)
	}

	// Release v1.2.0: its migration fails.
	if err := r.release(ctx, "v1.2.0"); err != nil {
		return err
	}
	t = time.Now()
	if err := r.apply(ctx, c, "v1.2.0", true); err != nil {
		return err
	}
	job := r.cfg.App + "-migration-v1.2.0"
	failedAt := make(chan time.Time, 1)
	go func() { failedAt <- localcluster.FailJobPod(ctx, c.Kube, ns, job) }()
	go func() {
		_, err := cluster.WaitForJob(ctx, waiter, ns, job, cluster.WithTimeout(2*time.Minute))
		gate <- err
	}()
	ro, err := cluster.WatchRelease(ctx, c.Kube, ns, r.cfg.App, "v1.2.0", 2*time.Minute)
	reported := time.Now()
	if !errors.Is(err, cluster.ErrJobFailed) {
		return fmt.Errorf("release v1.2.0 should have failed with its migration, got: %v", err)
	}
	cr.FailedJob = ro.Job
	cr.FailedWaiter = exit(<-gate)
	cr.FailFast = reported.Sub(<-failedAt)
	r.step("fail-fast", time.Since(t), "v1.2.0's migration pod failed (exit 1): tandem watch reported %s %s after the pod failed; waiter %s. "+
		"With k8s-wait-for every new pod would wait in Init:0/1 and the pipeline would never hear of it",
		ro.Job.Reason, cr.FailFast.Round(time.Millisecond), cr.FailedWaiter)
	return nil
}

// apply pulls tag's artifact and applies it. With failMigration the Job's pod is kept
// off kwok's node so the demo can fail it the way a kubelet does when the migration
// command exits 1 (kwok runs no containers).
func (r *run) apply(ctx context.Context, c *localcluster.Cluster, tag string, failMigration bool) error {
	if tag != "v1.1.0" {
		if err := r.verify(ctx, tag); err != nil {
			return err
		}
	}
	m, err := manifest.Build(filepath.Join(r.tmp, "pulled-"+tag))
	if err != nil {
		return err
	}
	if failMigration {
		if err := keepOffNode(m); err != nil {
			return err
		}
	}
	applied, err := cluster.Apply(ctx, c.Config, m)
	r.applied = len(applied.Objects)
	for _, w := range applied.Warnings {
		if !slices.Contains(r.res.Cluster.APIWarnings, w) {
			r.res.Cluster.APIWarnings = append(r.res.Cluster.APIWarnings, w)
		}
	}
	return err
}

func keepOffNode(m resmap.ResMap) error {
	for _, res := range m.Resources() {
		if res.GetKind() == "Job" {
			return res.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec", "template", "spec", "nodeSelector"),
				yaml.SetField("tandem-demo", yaml.NewStringRNode("no-kubelet")))
		}
	}
	return errors.New("no Job in the build")
}

// serviceAccount returns a client authenticated as the rendered ServiceAccount (real
// RBAC: only what rbac.yaml grants).
func serviceAccount(ctx context.Context, c *localcluster.Cluster, ns, name string) (kubernetes.Interface, error) {
	tok, err := c.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for ServiceAccount %s/%s: %w", ns, name, err)
	}
	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.BearerToken = tok.Status.Token
	return kubernetes.NewForConfig(cfg)
}

func exit(err error) string {
	if err == nil {
		return "exit 0"
	}
	return "exit 1 (" + err.Error() + ")"
}
