package waiter

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// namespaceFile is where a pod finds its own namespace.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Config loads a client configuration: the kubeconfig file when given (or $KUBECONFIG,
// ~/.kube/config), else the pod's in-cluster config. namespace is the explicit one, else
// the kubeconfig context's, else the pod's service account namespace, else "default".
func Config(kubeconfig, namespace string) (*rest.Config, string, error) {
	if kubeconfig == "" && os.Getenv("KUBECONFIG") == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			if namespace == "" {
				namespace = podNamespace()
			}
			return cfg, namespace, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: namespace}})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading Kubernetes client config (--kubeconfig, $KUBECONFIG, ~/.kube/config or in-cluster): %w", err)
	}
	return cfg, namespaceOf(cc, namespace), nil
}

// namespaceOf is namespace, else the kubeconfig context's, else "default".
func namespaceOf(cc clientcmd.ClientConfig, namespace string) string {
	if namespace != "" {
		return namespace
	}
	if ns, _, err := cc.Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}

func podNamespace() string {
	if b, err := os.ReadFile(namespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return "default"
}

// ConfigFromBytes is Config for kubeconfig content (e.g. from a CI secret).
func ConfigFromBytes(kubeconfig []byte, namespace string) (*rest.Config, string, error) {
	cc, err := clientcmd.NewClientConfigFromBytes(kubeconfig)
	if err != nil {
		return nil, "", fmt.Errorf("parsing kubeconfig: %w", err)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig: %w", err)
	}
	return cfg, namespaceOf(cc, namespace), nil
}
