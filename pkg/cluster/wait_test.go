package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tandem-ci/tandem/internal/testcluster"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

var nsSeq int

// namespace creates a fresh namespace for one test.
func namespace(t testing.TB, c *testcluster.Cluster) string {
	t.Helper()
	nsSeq++
	ns := fmt.Sprintf("t%d-%d", nsSeq, time.Now().UnixNano()%100000)
	if _, err := c.Kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

func createJob(t testing.TB, kube kube.Interface, ns, name string) *batchv1.Job {
	t.Helper()
	return testcluster.CreateJob(t, kube, ns, name)
}

// finish sets the Job's terminal conditions as the Job controller does.
func finish(t testing.TB, kube kube.Interface, ns, name string, ok bool) {
	t.Helper()
	if err := testcluster.FinishJob(kube, ns, name, ok); err != nil {
		t.Fatal(err)
	}
}

type waitResult struct {
	res waiter.JobResult
	err error
	at  time.Time
}

func waitAsync(kube kube.Interface, ns, name string, opts ...waiter.WaitOption) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		res, err := cluster.WaitForJob(context.Background(), kube, ns, name, opts...)
		ch <- waitResult{res, err, time.Now()}
	}()
	return ch
}

func TestWaitCompletes(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	createJob(t, c.Kube, ns, "shop-migration-v1")
	ch := waitAsync(c.Kube, ns, "shop-migration-v1", waiter.WithTimeout(30*time.Second))
	time.Sleep(200 * time.Millisecond) // let the waiter see a running Job first
	finish(t, c.Kube, ns, "shop-migration-v1", true)
	r := <-ch
	if r.err != nil || !r.res.Succeeded {
		t.Fatalf("wait = %+v, %v", r.res, r.err)
	}
}

func TestWaitFailsFast(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	createJob(t, c.Kube, ns, "shop-migration-v2")
	ch := waitAsync(c.Kube, ns, "shop-migration-v2", waiter.WithTimeout(30*time.Second))
	time.Sleep(200 * time.Millisecond)
	finish(t, c.Kube, ns, "shop-migration-v2", false)
	r := <-ch
	if !errors.Is(r.err, waiter.ErrJobFailed) || r.res.Reason != "BackoffLimitExceeded" || !strings.Contains(r.err.Error(), "backoff limit") {
		t.Fatalf("wait = %+v, %v", r.res, r.err)
	}
	// No pods exist (no controllers here): the waiter says so instead of failing.
	if r.res.LogError == "" {
		t.Errorf("log tail status not reported: %+v", r.res)
	}
	// How fast is measured by BenchmarkWaiterReaction, not here.
}

func TestWaitJobCreatedLater(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	ch := waitAsync(c.Kube, ns, "late", waiter.WithTimeout(30*time.Second), waiter.WithMissingTimeout(20*time.Second))
	time.Sleep(500 * time.Millisecond)
	createJob(t, c.Kube, ns, "late")
	finish(t, c.Kube, ns, "late", true)
	if r := <-ch; r.err != nil || !r.res.Succeeded {
		t.Fatalf("wait = %+v, %v", r.res, r.err)
	}
}

func TestWaitJobMissing(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	r := <-waitAsync(c.Kube, ns, "never", waiter.WithMissingTimeout(time.Second), waiter.WithTimeout(30*time.Second))
	if !errors.Is(r.err, waiter.ErrJobMissing) || !strings.Contains(r.err.Error(), "ttlSecondsAfterFinished") {
		t.Fatalf("wait = %v, want ErrJobMissing naming the TTL", r.err)
	}
}

func TestWaitTimeout(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	createJob(t, c.Kube, ns, "slow")
	r := <-waitAsync(c.Kube, ns, "slow", waiter.WithTimeout(time.Second))
	if !errors.Is(r.err, waiter.ErrTimeout) {
		t.Fatalf("wait = %v, want ErrTimeout", r.err)
	}
}

// serviceAccountClient returns a client authenticated as ns/sa through a real token
// from the TokenRequest API, optionally bound to a Role with rules.
func serviceAccountClient(t *testing.T, c *testcluster.Cluster, ns, sa string, rules []rbacv1.PolicyRule) kube.Interface {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if rules != nil {
		rbac := kubernetes.NewForConfigOrDie(c.Config).RbacV1() // tandem's client has no RBAC: the test's own
		if _, err := rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: sa}, Rules: rules}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: sa}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}},
			RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: sa}}
		if _, err := rbac.RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return saClient(t, c, ns, sa)
}

// saClient authenticates as an existing ServiceAccount through the TokenRequest API.
func saClient(t *testing.T, c *testcluster.Cluster, ns, sa string) kube.Interface {
	t.Helper()
	kube, err := c.ServiceAccountClient(context.Background(), ns, sa)
	if err != nil {
		t.Fatal(err)
	}
	return kube
}

func TestWaitForbidden(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	kube := serviceAccountClient(t, c, ns, "no-role", nil)
	_, err := cluster.WaitForJob(context.Background(), kube, ns, "x", waiter.WithTimeout(10*time.Second))
	if !errors.Is(err, waiter.ErrForbidden) || !strings.Contains(err.Error(), waiter.JobRule) {
		t.Fatalf("wait as an unbound ServiceAccount = %v, want ErrForbidden naming %s", err, waiter.JobRule)
	}
}

func TestWaitWithMinimalRole(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	kube := serviceAccountClient(t, c, ns, "waiter", []rbacv1.PolicyRule{{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch"}}})
	createJob(t, c.Kube, ns, "m")
	ch := waitAsync(kube, ns, "m", waiter.WithTimeout(30*time.Second))
	time.Sleep(200 * time.Millisecond)
	finish(t, c.Kube, ns, "m", false)
	r := <-ch
	if !errors.Is(r.err, waiter.ErrJobFailed) || !strings.Contains(r.res.LogError, "cannot list the job's pods (Forbidden)") {
		t.Fatalf("wait with jobs-only RBAC = %+v, %v; want failure with a degraded log tail", r.res, r.err)
	}
}

// dropper lets a test cut every open watch connection, as an API server restart or a
// load balancer timeout would.
type dropper struct {
	mu      sync.Mutex
	bodies  []io.Closer
	dropped int
}

func (d *dropper) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		if err == nil && r.URL.Query().Get("watch") == "true" {
			d.mu.Lock()
			d.bodies = append(d.bodies, resp.Body)
			d.mu.Unlock()
		}
		return resp, err
	})
}

func (d *dropper) drop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.bodies {
		b.Close()
		d.dropped++
	}
	d.bodies = nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWaitSurvivesDroppedWatch(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	d := &dropper{}
	cfg := rest.CopyConfig(c.Config)
	cfg.WrapTransport = d.wrap
	kube, err := kube.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	createJob(t, c.Kube, ns, "m")
	ch := waitAsync(kube, ns, "m", waiter.WithTimeout(60*time.Second))
	time.Sleep(500 * time.Millisecond)
	d.drop()
	finish(t, c.Kube, ns, "m", true) // happens while the watch is down
	r := <-ch
	if r.err != nil || !r.res.Succeeded || d.dropped == 0 {
		t.Fatalf("wait after dropped watch = %+v, %v (dropped %d)", r.res, r.err, d.dropped)
	}
}

// TestWaitPrintsFailedPodLog: the waiter fetches the failed migration pod's log through
// the API server's real log proxy. No kubelet can run here, so a test HTTPS server plays
// the kubelet's log endpoint for a node pointing at it (said so: it is the one stand-in).
func TestWaitPrintsFailedPodLog(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	ctx := context.Background()
	var asked string
	kubelet := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.Path + "?" + r.URL.RawQuery
		fmt.Fprint(w, "applying 00004_broken.sql\nERROR: relation \"no_such_table\" does not exist (SQLSTATE 42P01)\n")
	}))
	defer kubelet.Close()
	port, _ := strconv.Atoi(kubelet.URL[strings.LastIndex(kubelet.URL, ":")+1:])
	node, err := c.Kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "fake-kubelet-" + ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := c.Kube.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	createJob(t, c.Kube, ns, "m")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "m-abcde", Labels: map[string]string{"batch.kubernetes.io/job-name": "m"}},
		Spec:       corev1.PodSpec{NodeName: node.Name, RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "migrate", Image: "m"}}},
	}
	if _, err := c.Kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ch := waitAsync(c.Kube, ns, "m", waiter.WithTimeout(30*time.Second), waiter.WithLogLines(5))
	time.Sleep(200 * time.Millisecond)
	finish(t, c.Kube, ns, "m", false)
	r := <-ch
	if !errors.Is(r.err, waiter.ErrJobFailed) || r.res.Pod != "m-abcde" || !strings.Contains(r.res.Logs, `relation "no_such_table" does not exist`) {
		t.Fatalf("wait = %+v, %v", r.res, r.err)
	}
	if !strings.Contains(asked, "/containerLogs/"+ns+"/m-abcde/migrate") || !strings.Contains(asked, "tailLines=5") {
		t.Errorf("the API server asked the kubelet for %q", asked)
	}
}
