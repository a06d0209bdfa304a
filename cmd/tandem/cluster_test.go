package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/pkg/cluster"
)

// TestWaitCommands runs the k8s-wait-for compatible forms against a real API server.
func TestWaitCommands(t *testing.T) {
	c := testcluster.ForTest(t)
	ctx := context.Background()
	t.Setenv("KUBECONFIG", "")
	for i, ok := range []bool{true, false} {
		name := []string{"done", "broken"}[i]
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "m", Image: "m"}}}}}}
		job, err := c.Kube.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		job.Status.StartTime = &now
		cond := func(typ batchv1.JobConditionType, reason string) batchv1.JobCondition {
			return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: reason, LastTransitionTime: now}
		}
		if ok {
			job.Status.CompletionTime, job.Status.Succeeded = &now, 1
			job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached"), cond(batchv1.JobComplete, "CompletionsReached")}
		} else {
			job.Status.Failed = 1
			job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, "BackoffLimitExceeded"), cond(batchv1.JobFailed, "BackoffLimitExceeded")}
		}
		if _, err := c.Kube.BatchV1().Jobs("default").UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run(t, "job-wr", "done", "--kubeconfig", c.Kubeconfig, "-n", "default"); err != nil || !strings.Contains(out, "complete after") {
		t.Errorf("job-wr done = %v\n%s", err, out)
	}
	if out, err := run(t, "wait", "job", "done", "--kubeconfig", c.Kubeconfig, "-n", "default"); err != nil {
		t.Errorf("wait job done = %v\n%s", err, out)
	}
	_, err := run(t, "job", "broken", "--kubeconfig", c.Kubeconfig, "-n", "default")
	if !errors.Is(err, cluster.ErrJobFailed) || !strings.Contains(err.Error(), "BackoffLimitExceeded") {
		t.Errorf("job broken = %v", err)
	}
	_, err = run(t, "job-wr", "absent", "--kubeconfig", c.Kubeconfig, "-n", "default", "--missing-timeout", "500ms")
	if !errors.Is(err, cluster.ErrJobMissing) {
		t.Errorf("job-wr absent = %v", err)
	}
	_, err = run(t, "reconcile", "--source", "shop", "--kubeconfig", c.Kubeconfig, "-n", "default", "--timeout", time.Second.String())
	if !errors.Is(err, cluster.ErrNotFound) {
		t.Errorf("reconcile of a missing OCIRepository = %v", err)
	}
	_, err = run(t, "watch", "--app", "shop", "--tag", "v1.0.0", "--kubeconfig", c.Kubeconfig, "-n", "default", "--timeout", "500ms")
	if !errors.Is(err, cluster.ErrJobMissing) {
		t.Errorf("watch of a release never applied = %v", err)
	}
	if _, err := run(t, "wait", "pod", "x"); err == nil || !strings.Contains(err.Error(), "only jobs") {
		t.Errorf("wait pod = %v", err)
	}
}
