package localcluster

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The control plane is etcd and kube-apiserver run as processes, the way
// controller-runtime's envtest runs them (same flags), without linking envtest: the demo
// ships inside the tandem CLI, and envtest's dependencies cost the CLI 6 ms of start-up.

// adminUser is the identity of the admin client certificate (system:masters).
const adminUser = "tandem-admin"

// startControlPlane starts etcd and kube-apiserver under c.tmp and sets c.Config to an
// admin client; its processes go to c.plane, which Stop ends first to last.
func (c *Cluster) startControlPlane(ctx context.Context) error {
	pki, err := newPKI(filepath.Join(c.tmp, "pki"))
	if err != nil {
		return fmt.Errorf("creating certificates: %w", err)
	}
	bin := filepath.Join(c.dir, "bin")
	etcdClient, err := freeAddr()
	if err != nil {
		return err
	}
	etcdPeer, err := freeAddr()
	if err != nil {
		return err
	}
	etcd := exec.Command(filepath.Join(bin, "etcd"),
		"--data-dir="+filepath.Join(c.tmp, "etcd"),
		"--listen-client-urls=http://"+etcdClient, "--advertise-client-urls=http://"+etcdClient,
		"--listen-peer-urls=http://"+etcdPeer, "--initial-advertise-peer-urls=http://"+etcdPeer,
		"--initial-cluster=default=http://"+etcdPeer, "--unsafe-no-fsync")
	if err := c.start(etcd, &c.plane); err != nil {
		return err
	}
	if err := waitHealthy(ctx, http.DefaultClient, "http://"+etcdClient+"/health", "etcd", c.tmp); err != nil {
		return err
	}
	api, err := freeAddr()
	if err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(api)
	apiserver := exec.Command(filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers=http://"+etcdClient,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+port,
		"--cert-dir="+pki.dir, "--tls-cert-file="+pki.path("serving.crt"), "--tls-private-key-file="+pki.path("serving.key"),
		"--client-ca-file="+pki.path("ca.crt"),
		"--service-account-issuer=https://"+api+"/", "--service-account-key-file="+pki.path("sa.key"),
		"--service-account-signing-key-file="+pki.path("sa.key"),
		"--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount",
		"--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true")
	if err := c.start(apiserver, &c.plane); err != nil {
		return err
	}
	c.Config = &rest.Config{Host: "https://" + api, TLSClientConfig: rest.TLSClientConfig{
		CAData: pki.caPEM, CertData: pki.adminCert, KeyData: pki.adminKey,
	}}
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return err
	}
	return waitHealthy(ctx, hc, c.Config.Host+"/readyz", "kube-apiserver", c.tmp)
}

// start starts cmd logging to c.tmp/NAME.log and adds it to procs, which Stop ends.
func (c *Cluster) start(cmd *exec.Cmd, procs *[]*exec.Cmd) error {
	name := filepath.Base(cmd.Path)
	f, err := os.Create(filepath.Join(c.tmp, name+".log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Start()
	f.Close() // the child has its own descriptor
	if err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	*procs = append(*procs, cmd)
	return nil
}

// stopPlane ends the control plane, API server first, each with SIGTERM then SIGKILL.
func (c *Cluster) stopPlane() {
	for i := len(c.plane) - 1; i >= 0; i-- {
		p := c.plane[i]
		if p.Process == nil {
			continue
		}
		p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	c.plane = nil
}

// waitHealthy polls url until it answers 200.
func waitHealthy(ctx context.Context, hc *http.Client, url, what, logs string) error {
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy at %s (last answer: %s; logs in %s): %w", what, url, last, logs, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRDs creates every CustomResourceDefinition in the YAML files of dir and waits
// until each is Established.
func installCRDs(ctx context.Context, dyn dynamic.Interface, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRD files in %s: run hack/testenv.sh", dir)
	}
	var names []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("reading %s: %w", f, err)
			}
			if obj.GetKind() != "CustomResourceDefinition" {
				continue
			}
			if _, err := dyn.Resource(crdResource).Create(ctx, &obj, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating CRD %s from %s: %w", obj.GetName(), f, err)
			}
			names = append(names, obj.GetName())
		}
	}
	for _, n := range names {
		for {
			obj, err := dyn.Resource(crdResource).Get(ctx, n, metav1.GetOptions{})
			if err == nil && established(obj) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not Established: %w", n, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// writeKubeconfig writes the admin client's kubeconfig.
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[adminUser] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: adminUser}
	kc.CurrentContext = "local"
	return clientcmd.WriteToFile(*kc, path)
}

// pki is the control plane's certificates: a CA, the API server's serving certificate,
// the ServiceAccount token signing key and the admin client certificate, all on disk
// under dir (the API server reads files).
type pki struct {
	dir                        string
	caPEM, adminCert, adminKey []byte
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tandem-localcluster-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	issue := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, ips []net.IP, dns []string) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
	}
	servingCert, servingKey, err := issue(2, pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth,
		[]net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		return nil, err
	}
	if p.adminCert, p.adminKey, err = issue(3, pkix.Name{CommonName: adminUser, Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth, nil, nil); err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sab, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{
		"ca.crt": p.caPEM, "serving.crt": servingCert, "serving.key": servingKey,
		"sa.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sab}),
	} {
		if err := os.WriteFile(p.path(name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}
