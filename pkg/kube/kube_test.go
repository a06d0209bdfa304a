package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/pkg/kube"
)

// TestClientset runs every call tandem makes through pkg/kube against a real API server:
// each resource's path, scheme and verbs (a wrong one is a 404 or a decoding error).
func TestClientset(t *testing.T) {
	c := testcluster.ForTest(t)
	k, err := kube.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns = "shop"
	if _, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := k.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "shop", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
	if err != nil || len(tok.Status.Token) < 20 {
		t.Fatalf("CreateToken = %+v, %v", tok.Status, err)
	}

	jobs := k.BatchV1().Jobs(ns)
	w, err := jobs.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "shop-migration-v1.0.0"}, Spec: batchv1.JobSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "m", Image: "m"}}}}}}
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := <-w.ResultChan(); ev.Type != watch.Added || ev.Object.(*batchv1.Job).Name != job.Name {
		t.Errorf("watch event = %s %T", ev.Type, ev.Object)
	}
	got, err := jobs.Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	got.Status.StartTime, got.Status.Active = &now, 1
	if _, err := jobs.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := jobs.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 || l.Items[0].Status.Active != 1 {
		t.Errorf("jobs = %+v, %v", l, err)
	}

	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "shop"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "s", Image: "s"}}}}}}
	if _, err := k.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := k.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Errorf("deployments = %+v, %v", l, err)
	}

	if _, err := k.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, err := k.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); err != nil || n.Name != "n1" {
		t.Errorf("node = %v, %v", n, err)
	}

	pods := k.CoreV1().Pods(ns)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c"}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodFailed
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := pods.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 || l.Items[0].Status.Phase != corev1.PodFailed {
		t.Errorf("pods = %+v, %v", l, err)
	}
	// No node runs it, so no log: the API server answers itself; a wrong path is a 404.
	if _, err := pods.GetLogs("p", &corev1.PodLogOptions{TailLines: ptr.To[int64](5)}).DoRaw(ctx); err != nil {
		t.Errorf("logs of a pod without a node = %v", err)
	}
	if _, err := pods.GetLogs("absent", &corev1.PodLogOptions{}).DoRaw(ctx); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "absent") {
		t.Errorf("logs of a pod that does not exist = %v, want not found", err)
	}
}
