// Command waiters measures init-container waiters side by side on one real API server
// (internal/localcluster): N pods' worth of `tandem-wait job-wr NAME` processes against N
// k8s-wait-for-style loops (`kubectl get job NAME` every 2 s until it succeeded). Every
// request goes through a counting proxy, so the figures are what the API server saw:
// requests per waiting pod per minute, CPU per pod per minute, and the reaction time
// from the Job's Complete status write to each waiter's exit. Prints a Markdown table.
//
//	waiters -tandem-wait BIN -kubectl BIN [-pods 50] [-window 30s]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"

	"github.com/tandem-ci/tandem/internal/localcluster"
	"github.com/tandem-ci/tandem/pkg/kube"
)

func main() {
	tandemWait := flag.String("tandem-wait", "", "tandem-wait binary (required)")
	kubectl := flag.String("kubectl", "", "kubectl binary (required)")
	pods := flag.Int("pods", 50, "waiting pods per waiter")
	window := flag.Duration("window", 30*time.Second, "how long the pods wait before the Job completes")
	flag.Parse()
	if *window <= warmup {
		log.Fatalf("waiters: -window must be longer than the %s start-up", warmup)
	}
	if *tandemWait == "" || *kubectl == "" {
		log.Fatal("waiters: -tandem-wait and -kubectl are required")
	}
	c, err := localcluster.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Stop()
	work, err := os.MkdirTemp("", "tandem-waiters-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	p, err := startProxy(c.Config)
	if err != nil {
		log.Fatal(err)
	}
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(kubeconfigFmt, p.url)), 0o600); err != nil {
		log.Fatal(err)
	}
	waiters := []struct {
		label, agent string
		cmd          func(i int, job string) *exec.Cmd
	}{
		{"`tandem-wait job-wr` (one watch)", "tandem-wait", func(_ int, job string) *exec.Cmd {
			return exec.Command(*tandemWait, "--kubeconfig", kubeconfig, "-n", "default", "job-wr", job)
		}},
		{"k8s-wait-for style: `kubectl get job` every 2 s", "kubectl", func(i int, job string) *exec.Cmd {
			// Each pod has its own file system, so its own discovery cache.
			loop := fmt.Sprintf(`until [ "$(%q --kubeconfig %q --cache-dir %q -n default get job %q -o 'jsonpath={.status.succeeded}')" = 1 ]; do sleep 2; done`,
				*kubectl, kubeconfig, filepath.Join(work, fmt.Sprintf("cache-%d", i)), job)
			return exec.Command("bash", "-c", loop)
		}},
	}
	fmt.Printf("## Waiters: %d waiting pods each, %s of waiting, one API server\n\n", *pods, *window)
	fmt.Println("| waiter | API requests per pod, whole wait | per pod per minute, after start-up | CPU ms per pod per minute | reaction median ms | reaction max ms |")
	fmt.Println("|---|---|---|---|---|---|")
	for i, w := range waiters {
		r, err := measure(c.Kube, p, fmt.Sprintf("migrate-%d", i), w.agent, *pods, *window, w.cmd)
		if err != nil {
			log.Fatalf("%s: %v", w.label, err)
		}
		fmt.Printf("| %s | %.1f | %.1f | %.0f | %.0f | %.0f |\n", w.label, r.requestsPerPod, r.requestsPerPodMin, r.cpuMsPerPodMin, r.reactionMedian, r.reactionMax)
	}
	fmt.Println()
}

type result struct {
	requestsPerPod, requestsPerPodMin, cpuMsPerPodMin, reactionMedian, reactionMax float64
}

// warmup is left out of the steady request rate.
const warmup = 5 * time.Second

// measure starts n waiters for a new Job, lets them wait for window, marks the Job
// Complete and times each waiter's exit from that write.
func measure(kube kube.Interface, p *proxy, job, agent string, n int, window time.Duration, cmd func(int, string) *exec.Cmd) (result, error) {
	ctx := context.Background()
	if _, err := localcluster.CreateJob(ctx, kube, "default", job); err != nil {
		return result{}, err
	}
	type exit struct {
		at  time.Time
		cpu time.Duration
		err error
	}
	exits := make(chan exit, n)
	start, before := time.Now(), p.count(agent)
	for i := range n {
		c := cmd(i, job)
		if err := c.Start(); err != nil {
			return result{}, err
		}
		go func() {
			err := c.Wait()
			var cpu time.Duration
			if c.ProcessState != nil {
				cpu = c.ProcessState.UserTime() + c.ProcessState.SystemTime()
			}
			exits <- exit{time.Now(), cpu, err}
		}()
	}
	// The steady rate leaves out each waiter's start-up (kubectl's discovery, the first
	// list); the total per pod includes it.
	time.Sleep(warmup)
	steadyFrom, steadyBefore := time.Now(), p.count(agent)
	time.Sleep(window - warmup)
	done, steadyAfter := time.Now(), p.count(agent)
	if err := localcluster.FinishJob(kube, "default", job, true); err != nil {
		return result{}, err
	}
	var reactions []float64
	var cpu time.Duration
	for range n {
		e := <-exits
		if e.err != nil {
			return result{}, fmt.Errorf("a waiter failed: %w", e.err)
		}
		reactions = append(reactions, float64(e.at.Sub(done).Milliseconds()))
		cpu += e.cpu
	}
	sort.Float64s(reactions)
	return result{
		requestsPerPod:    float64(p.count(agent)-before) / float64(n),
		requestsPerPodMin: float64(steadyAfter-steadyBefore) / float64(n) / done.Sub(steadyFrom).Minutes(),
		cpuMsPerPodMin:    float64(cpu.Milliseconds()) / float64(n) / time.Since(start).Minutes(),
		reactionMedian:    reactions[len(reactions)/2],
		reactionMax:       reactions[len(reactions)-1],
	}, nil
}

// proxy forwards plain HTTP to the API server as its admin and counts requests by the
// first word of their User-Agent.
type proxy struct {
	url string
	mu  sync.Mutex
	by  map[string]*atomic.Int64
}

func (p *proxy) count(agent string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.by[agent]; c != nil {
		return c.Load()
	}
	return 0
}

func startProxy(cfg *rest.Config) (*proxy, error) {
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{url: "http://" + l.Addr().String(), by: map[string]*atomic.Int64{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = tr
	rp.FlushInterval = -1 // watches stream
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent, _, _ := strings.Cut(r.UserAgent(), "/")
		p.mu.Lock()
		c := p.by[agent]
		if c == nil {
			c = new(atomic.Int64)
			p.by[agent] = c
		}
		p.mu.Unlock()
		c.Add(1)
		rp.ServeHTTP(w, r)
	}))
	return p, nil
}

const kubeconfigFmt = `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
contexts:
- name: local
  context:
    cluster: local
    namespace: default
current-context: local
users: []
`
