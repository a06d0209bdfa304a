package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/tandem-ci/tandem/pkg/tag"

	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// ErrRolloutFailed is returned when the Deployment exceeded its progress deadline.
var ErrRolloutFailed = errors.New("rollout failed")

// Rollout is how a release went in the cluster.
type Rollout struct {
	Namespace   string           `json:"namespace"`
	Job         waiter.JobResult `json:"job"`
	Deployment  string           `json:"deployment"`
	Replicas    int32            `json:"replicas"`
	Available   int32            `json:"available"`
	JobWait     time.Duration    `json:"jobWait"`
	RolloutWait time.Duration    `json:"rolloutWait"`
}

// WatchRelease follows the release of app at tag: the migration Job <app>-migration-<tag>
// must complete (a failure returns waiter.ErrJobFailed with reason and log tail), then the
// Deployment <app> must roll out completely (ErrRolloutFailed past its progress deadline).
// timeout bounds each of the two waits.
func WatchRelease(ctx context.Context, kube kube.Interface, ns, app, releaseTag string, timeout time.Duration) (Rollout, error) {
	res := Rollout{Namespace: ns, Deployment: app}
	job, err := tag.JobName(app, releaseTag)
	if err != nil {
		return res, err
	}
	res.Job, err = WaitForJob(ctx, kube, ns, job, waiter.WithTimeout(timeout), waiter.WithMissingTimeout(timeout))
	res.JobWait = res.Job.Waited
	if err != nil {
		return res, err
	}
	start := time.Now()
	err = waitDeployment(ctx, kube, ns, app, timeout, &res)
	res.RolloutWait = time.Since(start)
	return res, err
}

func waitDeployment(ctx context.Context, kube kube.Interface, ns, name string, timeout time.Duration, res *Rollout) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deps := kube.AppsV1().Deployments(ns)
	lw := waiter.ByName(name, deps.List, deps.Watch)
	var failed string
	_, err := watchtools.UntilWithSync(ctx, lw, &appsv1.Deployment{}, nil, func(ev watch.Event) (bool, error) {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok || ev.Type == watch.Deleted {
			return false, nil
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		res.Replicas, res.Available = want, d.Status.AvailableReplicas
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
				failed = c.Message
				return true, nil
			}
		}
		return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.Replicas == want && d.Status.AvailableReplicas == want, nil
	})
	switch {
	case failed != "":
		return fmt.Errorf("deployment %s/%s: %w: %s", ns, name, ErrRolloutFailed, failed)
	case err != nil && parent.Err() != nil:
		return fmt.Errorf("waiting for deployment %s/%s: %w", ns, name, context.Cause(parent))
	case err != nil:
		return fmt.Errorf("waiting for deployment %s/%s to roll out (%d/%d available): %w after %s", ns, name, res.Available, res.Replicas, waiter.ErrTimeout, timeout)
	}
	return nil
}
