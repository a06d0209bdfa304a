package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-ci/tandem/internal/testcluster"
)

// TestWaitsOnRealAPIServer: the lean waiter, through its batch/core-only REST client,
// exits 0 when the Job completes and 1 at once with the reason when it fails.
func TestWaitsOnRealAPIServer(t *testing.T) {
	c := testcluster.ForTest(t)
	ctx := context.Background()
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []bool{true, false} {
		name := map[bool]string{true: "shop-migration-v1.1.0", false: "shop-migration-v1.2.0"}[ok]
		testcluster.CreateJob(t, c.Kube, "shop", name)
		time.AfterFunc(300*time.Millisecond, func() { testcluster.FinishJob(c.Kube, "shop", name, ok) })
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"job-wr", name, "--kubeconfig", c.Kubeconfig, "-n", "shop", "--timeout", "60s"}, &stdout, &stderr)
		switch {
		case ok && (code != 0 || !strings.Contains(stdout.String(), "complete")):
			t.Errorf("completed Job: exit %d\n%s%s", code, stdout.String(), stderr.String())
		case !ok && (code != 1 || !strings.Contains(stderr.String(), "BackoffLimitExceeded")):
			t.Errorf("failed Job: exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"pod", "x"}, {"job"}, {"service", "x"}, {"--nope", "job", "x"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: tandem-wait") {
			t.Errorf("tandem-wait %v: exit %d\n%s", args, code, stderr.String())
		}
	}
}

// TestLinksOnlyWaiting: the waiter's binary links client-go's REST layer, not every API
// group, and nothing of envtest, kwok, git, registries, kustomize, cobra or test code.
func TestLinksOnlyWaiting(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, d := range strings.Fields(string(out)) {
		for _, banned := range []string{"sigs.k8s.io/controller-runtime", "sigs.k8s.io/kwok", "github.com/go-git/", "github.com/google/go-containerregistry",
			"sigs.k8s.io/kustomize", "github.com/spf13/cobra", "k8s.io/client-go/kubernetes/scheme", "github.com/tandem-ci/tandem/internal/test"} {
			if strings.HasPrefix(d, banned) || d == "testing" {
				t.Errorf("tandem-wait links %s", d)
			}
		}
	}
}
