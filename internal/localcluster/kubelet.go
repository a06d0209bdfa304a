package localcluster

import (
	"context"
	"fmt"
	"os"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/tandem-ci/tandem/pkg/kube"
)

// FailJobPod plays the kubelet for a pod kwok does not manage: it waits for the pod of
// Job ns/job and marks it Failed with exit code 1, as a kubelet does when the migration
// command fails. It returns when the status was written.
func FailJobPod(ctx context.Context, kube kube.Interface, ns, job string) time.Time {
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

// RunJobPods plays the kubelet for the pods of Jobs in ns that no node runs (see
// KeepOffNodes): each new pod is handed to run once, and its status written as a kubelet
// does when the container exits: Succeeded when run returns nil, else Failed with exit
// code 1. It returns when ctx ends.
func RunJobPods(ctx context.Context, kube kube.Interface, ns string, run func(ctx context.Context, pod *corev1.Pod) error) {
	done := map[string]bool{}
	for ctx.Err() == nil {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name"})
		if err == nil {
			for i := range pods.Items {
				p := &pods.Items[i]
				if done[string(p.UID)] || p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" {
					continue
				}
				done[string(p.UID)] = true
				started := metav1.Now()
				runErr := run(ctx, p)
				state := &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: metav1.Now()}
				p.Status.Phase = corev1.PodSucceeded
				if runErr != nil {
					state.ExitCode, state.Reason, state.Message = 1, "Error", runErr.Error()
					p.Status.Phase = corev1.PodFailed
				}
				p.Status.StartTime = &started
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image,
					State: corev1.ContainerState{Terminated: state}}}
				for ctx.Err() == nil {
					if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
						break
					}
					time.Sleep(50 * time.Millisecond)
					if fresh, err := kube.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{}); err == nil {
						fresh.Status = p.Status
						p = fresh
					}
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// CreateJob creates a one-container migration Job ns/name (backoffLimit 0) for the
// waiters to wait for; nothing runs it unless the cluster has controllers.
func CreateJob(ctx context.Context, kube kube.Interface, ns, name string) (*batchv1.Job, error) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "migrate", Image: "m"}}}}}}
	return kube.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{})
}

// FinishJob writes the terminal conditions of Job ns/name as the Job controller does:
// Complete when ok, else Failed with reason BackoffLimitExceeded.
func FinishJob(kube kube.Interface, ns, name string, ok bool) error {
	ctx := context.Background()
	job, err := kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	job.Status.StartTime = &now
	cond := func(typ batchv1.JobConditionType, reason, msg string) batchv1.JobCondition {
		return batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: now, LastProbeTime: now}
	}
	if ok {
		job.Status.CompletionTime, job.Status.Succeeded = &now, 1
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached", "Reached expected number of succeeded pods"), cond(batchv1.JobComplete, "CompletionsReached", "Reached expected number of succeeded pods")}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, "BackoffLimitExceeded", "Job has reached the specified backoff limit"), cond(batchv1.JobFailed, "BackoffLimitExceeded", "Job has reached the specified backoff limit")}
	}
	_, err = kube.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	return err
}

// KeepOffNodes edits the Job (or Deployment) manifest file at path so that no node runs
// its pods: a nodeSelector no node matches. kwok runs no containers and would report any
// pod as running; a pod kept off its node can be failed with FailJobPod like a kubelet
// would, or left Pending (a rollout that does not progress).
func KeepOffNodes(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	job, err := kyaml.Parse(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if k := job.GetKind(); k != "Job" && k != "Deployment" {
		return fmt.Errorf("%s: kind %q, want a Job or a Deployment", path, k)
	}
	if err := job.PipeE(kyaml.LookupCreate(kyaml.MappingNode, "spec", "template", "spec", "nodeSelector"),
		kyaml.SetField("tandem.dev/no-kubelet", kyaml.NewStringRNode("true"))); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	out, err := job.String()
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
