// Package status joins what one release touched — the branch, the registry, Flux and the
// cluster — into one report with a verdict first: what is live, and whether every system
// agrees, or what does not and since when.
package status

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/tandem-ci/tandem/pkg/artifact"
	"github.com/tandem-ci/tandem/pkg/cluster"
	"github.com/tandem-ci/tandem/pkg/gitops"
	"github.com/tandem-ci/tandem/pkg/image"
	"github.com/tandem-ci/tandem/pkg/kube"
	"github.com/tandem-ci/tandem/pkg/release"
	"github.com/tandem-ci/tandem/pkg/tag"
	"github.com/tandem-ci/tandem/pkg/waiter"
)

// State is the verdict's kind.
type State string

// States, from good to bad; a pipeline branches on them (see ExitCode).
const (
	StateConsistent   State = "consistent"   // every system runs the branch's release
	StateProgressing  State = "progressing"  // on its way: not fetched, not applied, migrating, rolling out
	StateInconsistent State = "inconsistent" // something is missing or disagrees and will not settle by itself
	StateFailed       State = "failed"       // the migration or the Kustomization failed
)

// ExitCode is the code `tandem status` ends with for s: 0 consistent, 2 progressing,
// 3 inconsistent, 4 failed (1 is left for errors).
func (s State) ExitCode() int {
	return map[State]int{StateConsistent: 0, StateProgressing: 2, StateInconsistent: 3, StateFailed: 4}[s]
}

// Config says what to look at: the plan's names, how to reach the registry, and the
// cluster (nil clients: it is not asked).
type Config struct {
	Plan     release.Plan
	Registry release.Registry
	Kube     kube.Interface
	Dynamic  dynamic.Interface
	// Namespace is the app's (the Job's and the Deployment's).
	Namespace string
	// History lists the last N releases of the branch (0: none).
	History int
}

// Report is one look at a release.
type Report struct {
	Verdict string `json:"verdict"`
	State   State  `json:"state"`
	// Tag is the release the branch holds.
	Tag      string    `json:"tag"`
	Problems []string  `json:"problems,omitempty"`
	Git      Git       `json:"git"`
	Images   Images    `json:"images"`
	Artifact Artifact  `json:"artifact"`
	Cluster  *Cluster  `json:"cluster,omitempty"` // nil: not asked (no kubeconfig)
	History  []Release `json:"history,omitempty"`
	// Duration is how long the look took.
	Duration time.Duration `json:"duration"`
}

// Git is what the branch holds.
type Git struct {
	URL    string    `json:"url"`
	Branch string    `json:"branch"`
	Head   string    `json:"head"`
	Commit string    `json:"commit"` // the commit that set the tag
	Author string    `json:"author"`
	Since  time.Time `json:"since"`
}

// Images are both images of the tag in the registry.
type Images struct {
	Service   string `json:"service,omitempty"`   // repository:tag@sha256:…
	Migration string `json:"migration,omitempty"` // repository:tag@sha256:…
	Error     string `json:"error,omitempty"`
}

// Artifact is the tag's artifact in the registry.
type Artifact struct {
	artifact.Info
	URL   string `json:"url"`
	Error string `json:"error,omitempty"`
}

// Cluster is what Flux and the cluster run.
type Cluster struct {
	Source        FluxObject `json:"source"`
	Kustomization FluxObject `json:"kustomization"`
	Job           Job        `json:"job"`
	Rollout       Rollout    `json:"rollout"`
}

// FluxObject is an OCIRepository's or Kustomization's status.
type FluxObject struct {
	Object   string `json:"object"`
	Ready    string `json:"ready"` // True, False, Unknown, "" (not found)
	Revision string `json:"revision,omitempty"`
	// Attempted is a Kustomization's last attempted revision: applied, maybe unhealthy.
	Attempted string `json:"attempted,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Job is the release's migration Job.
type Job struct {
	Name     string        `json:"name"`
	State    string        `json:"state"` // complete, failed, running, missing
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
}

// Rollout is the Deployment and the digests its pods run.
type Rollout struct {
	Deployment string `json:"deployment"`
	Image      string `json:"image"` // the spec's
	Replicas   int32  `json:"replicas"`
	Updated    int32  `json:"updated"`
	Available  int32  `json:"available"`
	// Digests counts the pods per service digest; By says how each was known: from the
	// pod's status imageID, or by resolving its image tag in the registry.
	Digests []PodDigest `json:"digests"`
}

// PodDigest is the pods running one digest of the service.
type PodDigest struct {
	Digest  string `json:"digest"`
	Tag     string `json:"tag,omitempty"`
	Running int    `json:"running"`
	Pending int    `json:"pending"`
	By      string `json:"by"` // imageID or tag
}

// Release is one release of the branch's history.
type Release struct {
	gitops.Release
	InRegistry bool `json:"inRegistry"`
}

// Look joins the systems' views of the branch's release into a report.
func Look(ctx context.Context, cfg Config) (rep Report, err error) {
	start := time.Now()
	p := cfg.Plan
	defer func() { rep.Duration = time.Since(start) }()
	depth := gitops.DefaultHistoryDepth
	h, err := gitops.History(ctx, p.Commit(), depth)
	if err != nil {
		return rep, err
	}
	head := h.Releases[0]
	rep.Tag = head.Tag
	rep.Git = Git{URL: h.URL, Branch: h.Branch, Head: h.Head, Commit: head.Commit, Author: head.Author, Since: head.Time}
	opts := cfg.Registry.PublishOptions()
	if img, err := image.Find(ctx, p.ServiceRepository, p.MigrationRepository, rep.Tag, opts...); err != nil {
		rep.Images.Error = err.Error()
		rep.problem(StateInconsistent, "images of %s missing from the registry: %v", rep.Tag, err)
	} else {
		rep.Images = Images{Service: img.Service.Ref + "@" + img.Service.Digest, Migration: img.Migration.Ref + "@" + img.Migration.Digest}
	}
	rep.Artifact.URL = artifact.URL(p.ArtifactRepository, rep.Tag)
	if info, err := artifact.Describe(ctx, rep.Artifact.URL, cfg.Registry.ArtifactOptions()...); err != nil {
		rep.Artifact.Error = err.Error()
		rep.problem(StateInconsistent, "branch %s holds %s (since %s), but no artifact %s: re-run the release to push it", p.Branch, rep.Tag, head.Time.Format(time.RFC3339), rep.Artifact.URL)
	} else {
		rep.Artifact.Info = info
	}
	for i, r := range h.Releases {
		if i >= cfg.History {
			break
		}
		_, err := image.Find(ctx, p.ServiceRepository, p.MigrationRepository, r.Tag, opts...)
		rep.History = append(rep.History, Release{Release: r, InRegistry: err == nil})
	}
	if cfg.Kube != nil && cfg.Dynamic != nil {
		c, err := lookCluster(ctx, cfg, &rep)
		if err != nil {
			return rep, err
		}
		rep.Cluster = c
	}
	rep.conclude(cfg.Kube != nil)
	return rep, nil
}

// problem records what disagrees, keeping the worst state.
func (r *Report) problem(s State, format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	if rank(s) > rank(r.State) {
		r.State = s
	}
}

func rank(s State) int {
	return map[State]int{"": 0, StateConsistent: 0, StateProgressing: 1, StateInconsistent: 2, StateFailed: 3}[s]
}

// conclude writes the verdict: live and consistent, or the first thing that is not.
func (r *Report) conclude(clusterAsked bool) {
	if len(r.Problems) > 0 {
		r.Verdict = r.Tag + ": " + r.Problems[0]
		if len(r.Problems) > 1 {
			r.Verdict += fmt.Sprintf(" (and %d more)", len(r.Problems)-1)
		}
		return
	}
	r.State = StateConsistent
	if !clusterAsked {
		r.Verdict = fmt.Sprintf("%s on the branch, images and artifact in the registry; the cluster was not asked (no kubeconfig)", r.Tag)
		return
	}
	r.Verdict = fmt.Sprintf("live %s, consistent", r.Tag)
}

// lookCluster reads the Flux objects, the Job and the rollout.
func lookCluster(ctx context.Context, cfg Config, rep *Report) (*Cluster, error) {
	p := cfg.Plan
	c := &Cluster{}
	want := ""
	if rep.Artifact.Digest != "" {
		_, d, _ := strings.Cut(rep.Artifact.Digest, "@")
		want = rep.Tag + "@" + d
	}
	for _, t := range p.FluxTargets() {
		fo, err := fluxObject(ctx, cfg.Dynamic, t)
		if err != nil {
			return c, err
		}
		if t.Resource == cluster.OCIRepository {
			c.Source = fo
		} else {
			c.Kustomization = fo
		}
	}
	var err error
	if c.Job, err = job(ctx, cfg.Kube, cfg.Namespace, p.App, rep.Tag); err != nil {
		return c, err
	}
	if c.Job.State == "failed" { // the root cause, before what Flux says of it
		rep.problem(StateFailed, "migration failed: Job %s: %s", c.Job.Name, c.Job.Reason)
	}
	kust := p.FluxKustomization != ""
	var unhealthy string // a Kustomization that applied the release but is not Ready: said after the rollout
	switch src, ks := c.Source, c.Kustomization; {
	case src.Ready == "":
		rep.problem(StateInconsistent, "no OCIRepository %s: apply the Flux objects (tandem init writes them)", src.Object)
	case want != "" && tagOf(src.Revision) != rep.Tag:
		rep.problem(StateProgressing, "artifact %s not yet applied: %s has not fetched it, still at %s", rep.Tag, src.Object, orNone(src.Revision))
	case kust && ks.Ready == "":
		rep.problem(StateInconsistent, "no Kustomization %s", ks.Object)
	case kust && tagOf(ks.Revision) != rep.Tag && tagOf(ks.Attempted) != rep.Tag:
		rep.problem(StateProgressing, "artifact %s not yet applied: %s last applied %s", rep.Tag, ks.Object, orNone(ks.Revision))
	case kust && tagOf(ks.Revision) != rep.Tag && ks.Ready == "False" && tagOf(ks.Attempted) == rep.Tag && ks.Message != "" && !strings.Contains(ks.Message, "health check"):
		rep.problem(StateFailed, "Kustomization failing, %s not applied: %s", rep.Tag, ks.Message)
	case kust && ks.Ready == "False" && c.Job.State != "failed":
		unhealthy = ks.Message
	}
	switch c.Job.State {
	case "running":
		rep.problem(StateProgressing, "migration running: Job %s", c.Job.Name)
	case "missing":
		if len(rep.Problems) == 0 {
			rep.problem(StateInconsistent, "Job %s missing (deleted by hand? a TTL?): pods starting now wait for it", c.Job.Name)
		}
	}
	if c.Rollout, err = rollout(ctx, cfg, rep); err != nil {
		return c, err
	}
	if unhealthy != "" {
		rep.problem(StateFailed, "Kustomization %s applied %s but is not Ready: %s", c.Kustomization.Object, rep.Tag, unhealthy)
	}
	return c, nil
}

func tagOf(revision string) string {
	t, _, _ := strings.Cut(revision, "@")
	return t
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

func fluxObject(ctx context.Context, dyn dynamic.Interface, t cluster.Target) (FluxObject, error) {
	fo := FluxObject{Object: t.String()}
	obj, err := dyn.Resource(t.Resource).Namespace(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fo, nil
	}
	if err != nil {
		return fo, fmt.Errorf("reading %s: %w", t, err)
	}
	if fo.Ready, fo.Message = cluster.ReadyCondition(obj); fo.Ready == "" {
		fo.Ready = "Unknown"
	}
	fo.Revision = cluster.Revision(obj)
	fo.Attempted, _, _ = unstructured.NestedString(obj.Object, "status", "lastAttemptedRevision")
	return fo, nil
}

func job(ctx context.Context, kube kube.Interface, ns, app, releaseTag string) (Job, error) {
	name, err := tag.JobName(app, releaseTag)
	if err != nil {
		return Job{}, err
	}
	j := Job{Name: name, State: "missing"}
	obj, err := kube.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return j, nil
	}
	if err != nil {
		return j, fmt.Errorf("reading Job %s/%s: %w", ns, name, err)
	}
	done, cond := waiter.Finished(obj)
	switch {
	case done && cond == nil:
		j.State = "complete"
	case done:
		j.State, j.Reason = "failed", cond.Reason
		if cond.Message != "" {
			j.Reason += ": " + cond.Message
		}
	default:
		j.State = "running"
	}
	if s, e := obj.Status.StartTime, obj.Status.CompletionTime; s != nil && e != nil {
		j.Duration = e.Sub(s.Time)
	}
	return j, nil
}

// rollout reads the Deployment and the digests its pods run: the pod's status imageID
// when it names one, else the digest its image tag resolves to in the registry.
func rollout(ctx context.Context, cfg Config, rep *Report) (Rollout, error) {
	p := cfg.Plan
	ro := Rollout{Deployment: cfg.Namespace + "/" + p.App}
	d, err := cfg.Kube.AppsV1().Deployments(cfg.Namespace).Get(ctx, p.App, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		rep.problem(StateInconsistent, "no Deployment %s", ro.Deployment)
		return ro, nil
	}
	if err != nil {
		return ro, fmt.Errorf("reading Deployment %s: %w", ro.Deployment, err)
	}
	container := serviceContainer(d.Spec.Template.Spec.Containers, p.ServiceRepository)
	if container == "" {
		rep.problem(StateInconsistent, "Deployment %s runs no container of %s", ro.Deployment, p.ServiceRepository)
		return ro, nil
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == container {
			ro.Image = c.Image
		}
	}
	ro.Updated, ro.Available = d.Status.UpdatedReplicas, d.Status.AvailableReplicas
	if d.Spec.Replicas != nil {
		ro.Replicas = *d.Spec.Replicas
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return ro, err
	}
	pods, err := cfg.Kube.CoreV1().Pods(cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return ro, fmt.Errorf("listing the pods of %s: %w", ro.Deployment, err)
	}
	resolved := map[string]string{}
	byDigest := map[string]*PodDigest{}
	for _, pod := range pods.Items {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		digest, by, imageTag := podDigest(ctx, pod, container, cfg.Registry, resolved)
		pd := byDigest[digest]
		if pd == nil {
			pd = &PodDigest{Digest: digest, Tag: imageTag, By: by}
			byDigest[digest] = pd
		}
		if pod.Status.Phase == corev1.PodRunning {
			pd.Running++
		} else {
			pd.Pending++
		}
	}
	for _, pd := range byDigest {
		ro.Digests = append(ro.Digests, *pd)
	}
	sort.Slice(ro.Digests, func(i, j int) bool { return ro.Digests[i].Running > ro.Digests[j].Running })
	_, want, _ := strings.Cut(rep.Images.Service, "@")
	switch {
	case len(ro.Digests) > 1:
		var parts []string
		for _, pd := range ro.Digests {
			parts = append(parts, fmt.Sprintf("%s (%s) %d running, %d pending", short(pd.Digest), or(pd.Tag, "?"), pd.Running, pd.Pending))
		}
		rep.problem(StateProgressing, "rollout in progress: pods on %d digests: %s", len(ro.Digests), strings.Join(parts, "; "))
	case len(ro.Digests) == 1 && want != "" && ro.Digests[0].Digest != want:
		rep.problem(StateInconsistent, "pods run %s (%s), not %s's %s", short(ro.Digests[0].Digest), ro.Digests[0].Tag, rep.Tag, short(want))
	case ro.Available < ro.Replicas:
		rep.problem(StateProgressing, "rollout in progress: %d of %d available", ro.Available, ro.Replicas)
	}
	return ro, nil
}

// serviceContainer names the Deployment's container running the service repository.
func serviceContainer(cs []corev1.Container, repo string) string {
	for _, c := range cs {
		if strings.HasPrefix(c.Image, repo+":") || strings.HasPrefix(c.Image, repo+"@") {
			return c.Name
		}
	}
	return ""
}

func podDigest(ctx context.Context, pod corev1.Pod, container string, reg release.Registry, resolved map[string]string) (digest, by, imageTag string) {
	img := ""
	for _, c := range pod.Spec.Containers {
		if c.Name == container {
			img = c.Image
		}
	}
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		imageTag = img[i+1:]
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == container {
			if _, d, ok := strings.Cut(s.ImageID, "@sha256:"); ok {
				return "sha256:" + d, "imageID", imageTag
			}
		}
	}
	if d, ok := resolved[img]; ok {
		return d, "tag", imageTag
	}
	d, err := image.Digest(ctx, img, reg.PublishOptions()...)
	if err != nil {
		d = "unknown (" + img + ")"
	}
	resolved[img] = d
	return d, "tag", imageTag
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// ErrTimeout is returned by Watch when the release did not settle in time.
var ErrTimeout = errors.New("did not settle")

// Watch looks again every interval until the state is consistent or failed, or timeout.
func Watch(ctx context.Context, cfg Config, interval, timeout time.Duration, each func(Report)) (Report, error) {
	deadline := time.Now().Add(timeout)
	for {
		rep, err := Look(ctx, cfg)
		if err != nil {
			return rep, err
		}
		if each != nil {
			each(rep)
		}
		if rep.State == StateConsistent || rep.State == StateFailed {
			return rep, nil
		}
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("%w after %s: %s", ErrTimeout, timeout, rep.Verdict)
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(interval):
		}
	}
}
