// Package localcluster starts a real Kubernetes control plane on this machine, for the
// demo and (through internal/testcluster) the tests: etcd and kube-apiserver (run with
// the flags controller-runtime's envtest uses, see controlplane.go) with the Flux CRDs,
// and on request
// kube-controller-manager, kube-scheduler and kwok with one fake node. The binaries come
// from hack/testenv.sh (built from the Go module proxy).
package localcluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/tandem-ci/tandem/pkg/kube"
)

// Kube is the client the cluster and its kubelet helpers use (pkg/kube).
type Kube = kube.Interface

// DefaultDir is where hack/testenv.sh puts the binaries and CRDs by default.
const DefaultDir = "tandem/testenv/k8s-v1.34.2-etcd-v3.6.6-kwok-v0.7.0"

// NodeName is the fake node kwok manages.
const NodeName = "kwok-node-0"

// Dir returns the test environment folder: $TANDEM_TESTENV_DIR, else the default under
// the user cache folder; ok is false when its binaries are missing.
func Dir() (string, bool) {
	dir := os.Getenv("TANDEM_TESTENV_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(cache, DefaultDir)
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(dir, "bin", b)); err != nil {
			return dir, false
		}
	}
	return dir, true
}

// Cluster is a running control plane.
type Cluster struct {
	Config     *rest.Config
	Kube       kube.Interface
	Dynamic    dynamic.Interface
	Kubeconfig string // admin kubeconfig file
	// ArtifactServer is source-controller's artifact server (WithFlux), http://127.0.0.1:port.
	ArtifactServer string
	plane          []*exec.Cmd // etcd, kube-apiserver
	procs          []*exec.Cmd
	dir            string
	tmp            string
}

// Option configures Start.
type Option func(*options)

type options struct{ controllers, flux bool }

// WithControllers also starts kube-controller-manager, kube-scheduler and kwok with one
// fake node, so Deployments get ready pods and Jobs complete.
func WithControllers() Option { return func(o *options) { o.controllers = true } }

// FluxDir is where hack/testenv.sh puts the Flux controllers and all their CRDs, inside
// the test environment folder.
const FluxDir = "flux-source-v1.9.6-kustomize-v1.9.6"

// FluxNamespace is where the Flux controllers run and their objects live.
const FluxNamespace = "flux-system"

// WithFlux also starts the real source-controller and kustomize-controller (all Flux
// source CRDs installed), with their artifact server and probes on 127.0.0.1.
func WithFlux() Option { return func(o *options) { o.flux = true } }

// HasFlux reports whether the Flux controllers are built.
func HasFlux() bool {
	dir, ok := Dir()
	if !ok {
		return false
	}
	for _, b := range []string{"source-controller", "kustomize-controller"} {
		if _, err := os.Stat(filepath.Join(dir, FluxDir, "bin", b)); err != nil {
			return false
		}
	}
	return true
}

// Start starts a cluster. Callers must Stop it.
func Start(opts ...Option) (*Cluster, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir, ok := Dir()
	if !ok {
		return nil, fmt.Errorf("test environment binaries not found in %s: run hack/testenv.sh", dir)
	}
	crds := filepath.Join(dir, "crds")
	if o.flux {
		if !HasFlux() {
			return nil, fmt.Errorf("flux controllers not found in %s: run hack/testenv.sh", filepath.Join(dir, FluxDir))
		}
		crds = filepath.Join(dir, FluxDir, "crds")
	}
	c := &Cluster{dir: dir}
	var err error
	if c.tmp, err = os.MkdirTemp("", "tandem-cluster-"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.startControlPlane(ctx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("starting control plane: %w", err)
	}
	if err := c.init(ctx, crds); err != nil {
		c.Stop()
		return nil, err
	}
	if o.controllers {
		if err := c.startControllers(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if o.flux {
		if err := c.startFlux(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startFlux starts source-controller and kustomize-controller against the API server.
func (c *Cluster) startFlux() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: FluxNamespace}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", FluxNamespace, err)
	}
	bin := filepath.Join(c.dir, FluxDir, "bin")
	var addrs [5]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return err
		}
		addrs[i] = a
	}
	storage := filepath.Join(c.tmp, "flux-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return err
	}
	c.ArtifactServer = "http://" + addrs[0]
	cmds := []*exec.Cmd{
		exec.Command(filepath.Join(bin, "source-controller"), "--storage-path="+storage,
			"--storage-addr="+addrs[0], "--storage-adv-addr="+addrs[0],
			"--metrics-addr="+addrs[1], "--health-addr="+addrs[2], "--log-level=debug"),
		exec.Command(filepath.Join(bin, "kustomize-controller"), "--no-remote-bases",
			"--metrics-addr="+addrs[3], "--health-addr="+addrs[4], "--log-level=debug"),
	}
	for _, cmd := range cmds {
		name := filepath.Base(cmd.Path)
		// A temp folder of its own: kustomize-controller deletes every kustomization-*
		// folder in $TMPDIR when it starts, which would pull the floor from under another
		// cluster's controller on the same machine.
		tmp := filepath.Join(c.tmp, name+"-tmp")
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return err
		}
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "RUNTIME_NAMESPACE="+FluxNamespace, "TMPDIR="+tmp)
		if err := c.start(cmd, &c.procs); err != nil {
			return err
		}
	}
	// Ready when both health endpoints answer.
	for i, a := range []string{addrs[2], addrs[4]} {
		if err := waitHealthy(ctx, http.DefaultClient, "http://"+a+"/readyz", filepath.Base(cmds[i].Path), c.tmp); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) init(ctx context.Context, crds string) error {
	var err error
	if c.Kube, err = kube.NewForConfig(c.Config); err != nil {
		return err
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return err
	}
	if err := installCRDs(ctx, c.Dynamic, crds); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.tmp, "admin.kubeconfig")
	return writeKubeconfig(c.Config, c.Kubeconfig)
}

func (c *Cluster) startControllers() error {
	bin := filepath.Join(c.dir, "bin")
	cmds := []*exec.Cmd{
		exec.Command(filepath.Join(bin, "kube-controller-manager"), "--kubeconfig="+c.Kubeconfig,
			"--authentication-kubeconfig="+c.Kubeconfig, "--authorization-kubeconfig="+c.Kubeconfig,
			"--leader-elect=false", "--controllers=*", "--use-service-account-credentials",
			"--bind-address=127.0.0.1", "--secure-port=0", "--concurrent-job-syncs=5"),
		exec.Command(filepath.Join(bin, "kube-scheduler"), "--kubeconfig="+c.Kubeconfig,
			"--authentication-kubeconfig="+c.Kubeconfig, "--authorization-kubeconfig="+c.Kubeconfig,
			"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0"),
		exec.Command(filepath.Join(bin, "kwok"), "--kubeconfig="+c.Kubeconfig,
			"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--server-address=127.0.0.1:0"),
	}
	for _, cmd := range cmds {
		if err := c.start(cmd, &c.procs); err != nil {
			return err
		}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        NodeName,
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
		Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": NodeName},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating fake node: %w", err)
	}
	for ctx.Err() == nil {
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err == nil {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("fake node %s not Ready within 30s (logs in %s)", NodeName, c.tmp)
}

// LogDir holds the controllers' logs.
func (c *Cluster) LogDir() string { return c.tmp }

// Stop stops every process and removes temporary files.
func (c *Cluster) Stop() {
	for _, p := range c.procs {
		if p.Process != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
	c.stopPlane()
	if os.Getenv("TANDEM_KEEP_CLUSTER_LOGS") == "" {
		os.RemoveAll(c.tmp)
	}
}

// ServiceAccountClient returns a client authenticated as ServiceAccount ns/name through
// the TokenRequest API: it can do exactly what RBAC grants that account.
func (c *Cluster) ServiceAccountClient(ctx context.Context, ns, name string) (kube.Interface, error) {
	tok, err := c.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for ServiceAccount %s/%s: %w", ns, name, err)
	}
	cfg := rest.AnonymousClientConfig(c.Config)
	cfg.BearerToken = tok.Status.Token
	return kube.NewForConfig(cfg)
}
