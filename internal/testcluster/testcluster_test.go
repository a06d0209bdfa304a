package testcluster_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tandem-ci/tandem/internal/testcluster"
)

// TestControllersRunWorkloads proves the environment: a Job completes and a Deployment
// gets ready pods on the kwok node.
func TestControllersRunWorkloads(t *testing.T) {
	c := testcluster.ForTest(t, testcluster.WithControllers())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	labels := map[string]string{"app": "x"}
	pod := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](0), Template: pod}}
	if _, err := c.Kube.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: pod}}
	if _, err := c.Kube.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for ctx.Err() == nil {
		j, _ := c.Kube.BatchV1().Jobs("default").Get(ctx, "j", metav1.GetOptions{})
		d, _ := c.Kube.AppsV1().Deployments("default").Get(ctx, "d", metav1.GetOptions{})
		if j != nil && j.Status.Succeeded == 1 && d != nil && d.Status.ReadyReplicas == 2 {
			t.Logf("job complete and deployment 2/2 ready after %s", time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("workloads not done in time; logs in %s", c.LogDir())
}
