package cluster_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/tandem-ci/tandem/internal/testnet"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

func silentServer(t *testing.T) *rest.Config {
	return &rest.Config{Host: "http://" + testnet.Silent(t)}
}

// TestTimeoutCoversFirstCall: --timeout bounds the first API call of the waiter, the
// release watch and the reconcile, and the error says the API server did not answer.
func TestTimeoutCoversFirstCall(t *testing.T) {
	cfg := silentServer(t)
	kube := newKube(t, cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	cases := map[string]func() error{
		"wait": func() error {
			_, err := cluster.WaitForJob(ctx, kube, "ns", "shop-migration-v1", waiter.WithTimeout(time.Second))
			return err
		},
		"watch": func() error {
			_, err := cluster.WatchRelease(ctx, kube, "ns", "shop", "v1.2.0", time.Second)
			return err
		},
		"reconcile": func() error {
			_, err := cluster.Reconcile(ctx, dyn, time.Second, cluster.FluxTargets("flux-system", "shop", "shop")...)
			return err
		},
	}
	for name, fn := range cases {
		start := time.Now()
		err := testnet.Within(t, 30*time.Second, fn)
		t.Logf("%s against a silent API server: %v after %s", name, err, time.Since(start).Round(time.Millisecond))
		if !errors.Is(err, waiter.ErrTimeout) || !strings.Contains(err.Error(), "API server did not answer") || strings.Contains(err.Error(), "Flux controller") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCancelIsNotATimeout: a cancelled context (SIGTERM) ends every wait at once and
// says so, instead of blaming a timeout or the Flux controller.
func TestCancelIsNotATimeout(t *testing.T) {
	cfg := silentServer(t)
	kube := newKube(t, cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	for name, fn := range map[string]func(context.Context) error{
		"wait": func(ctx context.Context) error {
			_, err := cluster.WaitForJob(ctx, kube, "ns", "j", waiter.WithTimeout(time.Hour))
			return err
		},
		"reconcile": func(ctx context.Context) error {
			_, err := cluster.Reconcile(ctx, dyn, time.Hour, cluster.FluxTargets("flux-system", "shop", "shop")...)
			return err
		},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		err := testnet.Within(t, 30*time.Second, func() error { return fn(ctx) })
		if !errors.Is(err, context.Canceled) || errors.Is(err, waiter.ErrTimeout) || strings.Contains(err.Error(), "Flux controller") {
			t.Errorf("%s cancelled: %v", name, err)
		}
	}
}

// TestFailedJobLogTailStall: the Job failed and the API server then stalls on the pod
// list of the log tail; the waiter still returns ErrJobFailed, within LogTailTimeout.
func TestFailedJobLogTailStall(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	createJob(t, c.Kube, ns, "shop-migration-v1")
	finish(t, c.Kube, ns, "shop-migration-v1", false)

	// A proxy in front of the real API server that never answers pod lists.
	rt, err := rest.TransportFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(c.Config.Host)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = rt
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/pods") {
			select {
			case <-stall:
			case <-r.Context().Done():
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(stall)
	kube := newKube(t, &rest.Config{Host: srv.URL})

	old := waiter.LogTailTimeout
	waiter.LogTailTimeout = time.Second
	defer func() { waiter.LogTailTimeout = old }()
	var res waiter.JobResult
	err = testnet.Within(t, 30*time.Second, func() error {
		var err error
		res, err = cluster.WaitForJob(context.Background(), kube, ns, "shop-migration-v1", waiter.WithTimeout(time.Hour))
		return err
	})
	if !errors.Is(err, waiter.ErrJobFailed) || res.Reason != "BackoffLimitExceeded" || !strings.Contains(res.LogError, "cannot list the job's pods") {
		t.Errorf("WaitForJob = %+v, %v", res, err)
	}
}

func newKube(t *testing.T, cfg *rest.Config) *kube.Clientset {
	t.Helper()
	c, err := kube.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
