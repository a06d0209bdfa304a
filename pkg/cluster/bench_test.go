package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// BenchmarkWaiterReaction measures the time from the Job's Failed condition being
// written to WaitForJob returning. Reports the median as reaction-ms.
func BenchmarkWaiterReaction(b *testing.B) {
	if shared == nil {
		b.Skip("Kubernetes test binaries not found: run hack/testenv.sh")
	}
	ns := namespace(b, shared)
	var samples []time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("m%d", i)
		createJob(b, shared.Kube, ns, name)
		ch := waitAsync(shared.Kube, ns, name, waiter.WithTimeout(30*time.Second))
		time.Sleep(100 * time.Millisecond) // the waiter is watching
		at := time.Now()
		finish(b, shared.Kube, ns, name, false)
		r := <-ch
		samples = append(samples, r.at.Sub(at))
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "median-reaction-ms")
	b.ReportMetric(float64(samples[len(samples)-1].Microseconds())/1000, "max-reaction-ms")
}

// TestWaiterIdleRequests counts the API requests one waiting pod makes while the Job
// runs: a watch makes 2 (a permission check and the watch) however long it waits, where a
// k8s-wait-for style poll every 2 s makes one per poll. The window is 4 s, or
// $TANDEM_MEASURE_IDLE (e.g. 60s) to measure.
func TestWaiterIdleRequests(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("TANDEM_MEASURE_IDLE"))
	if err != nil {
		d = 4 * time.Second
	}
	c := controlPlane(t)
	ns := namespace(t, c)
	createJob(t, c.Kube, ns, "idle")
	var n atomic.Int64
	cfg := rest.CopyConfig(c.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) { n.Add(1); return rt.RoundTrip(r) })
	}
	kube, _ := kube.NewForConfig(cfg)
	_, err = cluster.WaitForJob(context.Background(), kube, ns, "idle", waiter.WithTimeout(d))
	t.Logf("API requests by one waiter over %s: %d (%v)", d, n.Load(), err)
	// The Job exists and runs: the only right end is the deadline (ErrJobMissing would
	// mean the waiter never saw the Job it waits for).
	if errors.Is(err, waiter.ErrJobMissing) || !errors.Is(err, waiter.ErrTimeout) {
		t.Errorf("the idle wait ended with %v, want a timeout", err)
	}
	if n.Load() > 3 {
		t.Errorf("one waiter made %d API requests in %s: it polls instead of watching", n.Load(), d)
	}
}
