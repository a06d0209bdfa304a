// Package kube is the Kubernetes client of tandem's commands: the typed resources they
// use (Jobs, Pods, Deployments, Namespaces, Nodes, ServiceAccount tokens) through
// client-go's own REST layer and generic typed client (gentype), with a scheme of
// core/v1, batch/v1, apps/v1 and authentication/v1 only.
//
// client-go's Clientset serves every API group, and linking it registers all of them
// when the program starts: about 15 ms of every tandem command's start-up on a 2-core
// machine, whether it talks to a cluster or not. Call sites read as they would with a
// Clientset: kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{}).
package kube

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"

	"github.com/tandem-ci/tandem/internal/kuberest"
)

// Interface is what callers hold: a Clientset, or anything serving the same groups.
type Interface interface {
	CoreV1() CoreV1
	BatchV1() BatchV1
	AppsV1() AppsV1
}

// Clientset serves core/v1, batch/v1 and apps/v1.
type Clientset struct {
	core, batch, apps *rest.RESTClient
	params            runtime.ParameterCodec
}

var _ Interface = (*Clientset)(nil)

// NewForConfig makes a Clientset for cfg.
func NewForConfig(cfg *rest.Config) (*Clientset, error) {
	rcs, params, err := kuberest.Clients(cfg,
		[]func(*runtime.Scheme) error{corev1.AddToScheme, batchv1.AddToScheme, appsv1.AddToScheme, authenticationv1.AddToScheme},
		corev1.SchemeGroupVersion, batchv1.SchemeGroupVersion, appsv1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return &Clientset{core: rcs[0], batch: rcs[1], apps: rcs[2], params: params}, nil
}

// CoreV1 serves Pods, Namespaces, Nodes and ServiceAccount tokens.
func (c *Clientset) CoreV1() CoreV1 { return CoreV1{c} }

// BatchV1 serves Jobs.
func (c *Clientset) BatchV1() BatchV1 { return BatchV1{c} }

// AppsV1 serves Deployments.
func (c *Clientset) AppsV1() AppsV1 { return AppsV1{c} }

// CoreV1 is the core/v1 group.
type CoreV1 struct{ c *Clientset }

// BatchV1 is the batch/v1 group.
type BatchV1 struct{ c *Clientset }

// AppsV1 is the apps/v1 group.
type AppsV1 struct{ c *Clientset }

// Typed clients: Get, List, Watch, Create, Update, UpdateStatus, Delete, Patch.
type (
	JobClient        = gentype.ClientWithList[*batchv1.Job, *batchv1.JobList]
	DeploymentClient = gentype.ClientWithList[*appsv1.Deployment, *appsv1.DeploymentList]
	NamespaceClient  = gentype.ClientWithList[*corev1.Namespace, *corev1.NamespaceList]
	NodeClient       = gentype.ClientWithList[*corev1.Node, *corev1.NodeList]
)

// PodClient is the typed client of Pods, with their logs.
type PodClient struct {
	*gentype.ClientWithList[*corev1.Pod, *corev1.PodList]
	params runtime.ParameterCodec
}

// ServiceAccountClient is the typed client of ServiceAccounts, with their tokens.
type ServiceAccountClient struct {
	*gentype.ClientWithList[*corev1.ServiceAccount, *corev1.ServiceAccountList]
	params runtime.ParameterCodec
}

// Jobs of namespace ns.
func (g BatchV1) Jobs(ns string) *JobClient {
	return gentype.NewClientWithList("jobs", g.c.batch, g.c.params, ns,
		func() *batchv1.Job { return &batchv1.Job{} }, func() *batchv1.JobList { return &batchv1.JobList{} })
}

// Deployments of namespace ns.
func (g AppsV1) Deployments(ns string) *DeploymentClient {
	return gentype.NewClientWithList("deployments", g.c.apps, g.c.params, ns,
		func() *appsv1.Deployment { return &appsv1.Deployment{} }, func() *appsv1.DeploymentList { return &appsv1.DeploymentList{} })
}

// Namespaces of the cluster.
func (g CoreV1) Namespaces() *NamespaceClient {
	return gentype.NewClientWithList("namespaces", g.c.core, g.c.params, "",
		func() *corev1.Namespace { return &corev1.Namespace{} }, func() *corev1.NamespaceList { return &corev1.NamespaceList{} })
}

// Nodes of the cluster.
func (g CoreV1) Nodes() *NodeClient {
	return gentype.NewClientWithList("nodes", g.c.core, g.c.params, "",
		func() *corev1.Node { return &corev1.Node{} }, func() *corev1.NodeList { return &corev1.NodeList{} })
}

// Pods of namespace ns.
func (g CoreV1) Pods(ns string) PodClient {
	return PodClient{gentype.NewClientWithList("pods", g.c.core, g.c.params, ns,
		func() *corev1.Pod { return &corev1.Pod{} }, func() *corev1.PodList { return &corev1.PodList{} }), g.c.params}
}

// ServiceAccounts of namespace ns.
func (g CoreV1) ServiceAccounts(ns string) ServiceAccountClient {
	return ServiceAccountClient{gentype.NewClientWithList("serviceaccounts", g.c.core, g.c.params, ns,
		func() *corev1.ServiceAccount { return &corev1.ServiceAccount{} }, func() *corev1.ServiceAccountList { return &corev1.ServiceAccountList{} }), g.c.params}
}

// GetLogs is the request for pod's log.
func (p PodClient) GetLogs(pod string, o *corev1.PodLogOptions) *rest.Request {
	return p.GetClient().Get().Namespace(p.GetNamespace()).Resource("pods").Name(pod).SubResource("log").VersionedParams(o, p.params)
}

// CreateToken asks for a token of the ServiceAccount name (the TokenRequest API).
func (s ServiceAccountClient) CreateToken(ctx context.Context, name string, tr *authenticationv1.TokenRequest, o metav1.CreateOptions) (*authenticationv1.TokenRequest, error) {
	res := &authenticationv1.TokenRequest{}
	err := s.GetClient().Post().Namespace(s.GetNamespace()).Resource("serviceaccounts").Name(name).SubResource("token").
		VersionedParams(&o, s.params).Body(tr).Do(ctx).Into(res)
	return res, err
}
