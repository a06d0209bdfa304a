package localcluster

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// FailJobPod plays the kubelet for a pod kwok does not manage: it waits for the pod of
// Job ns/job and marks it Failed with exit code 1, as a kubelet does when the migration
// command fails. It returns when the status was written.
func FailJobPod(ctx context.Context, kube kubernetes.Interface, ns, job string) time.Time {
	for ctx.Err() == nil {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
		if err == nil && len(pods.Items) > 0 {
			p := pods.Items[0]
			now := metav1.Now()
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image,
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", StartedAt: now, FinishedAt: now}}}}
			if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err == nil {
				return time.Now()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Now()
}
