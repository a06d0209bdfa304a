package lint

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	gcrname "github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/utils"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/tandem-ci/tandem/pkg/manifest"
	"github.com/tandem-ci/tandem/pkg/tag"
)

var checks = []func(*checker){checkJobs, checkWaiters, checkOrder, checkImages, checkReplacementIndex, checkSelector, checkFlux}

var (
	jobMeta      = []string{"metadata", "name"}
	jobSpec      = []string{"spec"}
	podSpecPath  = []string{"spec", "template", "spec"}
	annotations  = []string{"metadata", "annotations"}
	placeholder  = regexp.MustCompile(`\$\{[^}]*\}`)
	builtinRoles = []string{"view", "edit", "admin", "cluster-admin"}
)

func checkJobs(c *checker) {
	for _, j := range c.objs.jobs {
		job := j.obj
		if c.objs.built {
			if c.objs.imageTag != "" && !strings.HasSuffix(job.Name, "-"+c.objs.imageTag) {
				c.report(RuleJobNameTag, j.src, jobMeta, "Job name %q does not end with -%s (IMAGE_TAG): every release reuses or collides with an old Job", job.Name, c.objs.imageTag)
			}
			if len(job.Name) > tag.MaxJobNameLength || len(validation.IsDNS1123Subdomain(job.Name)) > 0 {
				c.report(RuleNames, j.src, jobMeta, "Job name %q (%d characters) is not a lowercase DNS-1123 name of at most %d characters", job.Name, len(job.Name), tag.MaxJobNameLength)
			}
		} else if !strings.Contains(job.Name, "${") && !c.targets("Job", job.Name, "metadata.name") {
			c.report(RuleJobNameTag, j.src, jobMeta, "Job name %q holds no tag and no replacement targets it", job.Name)
		}
		if job.Annotations[manifest.ForceAnnotation] != "Enabled" {
			c.report(RuleForce, j.src, annotations, "Job %s has no %s: Enabled annotation; Flux cannot recreate an immutable Job", job.Name, manifest.ForceAnnotation)
		}
		if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit > 0 {
			limit := "unset (defaults to 6)"
			if job.Spec.BackoffLimit != nil {
				limit = fmt.Sprint(*job.Spec.BackoffLimit)
			}
			c.report(RuleBackoff, j.src, append(jobSpec, "backoffLimit"), "Job %s backoffLimit is %s: a failed migration is retried against a half-migrated schema", job.Name, limit)
		}
		if ttl := job.Spec.TTLSecondsAfterFinished; ttl != nil {
			c.report(RuleTTL, j.src, append(jobSpec, "ttlSecondsAfterFinished"),
				"Job %s is deleted %ds after it finishes: Flux re-creates it at its next interval and the migration runs again, once per interval, with the Kustomization un-Ready meanwhile; a pod scheduled in the gap waits for a Job that does not exist", job.Name, *ttl)
		}
		if job.Spec.TTLSecondsAfterFinished != nil && job.Annotations[manifest.IdempotentAnnotation] != "true" {
			c.report(RuleTTLRerun, j.src, append(jobSpec, "ttlSecondsAfterFinished"),
				"Job %s is deleted %ds after it finishes; Flux then re-creates it and the migration runs again: it must be idempotent", job.Name, *job.Spec.TTLSecondsAfterFinished)
		}
		for _, ctr := range job.Spec.Template.Spec.Containers {
			for field, list := range map[string][]string{"command": ctr.Command, "args": ctr.Args} {
				if bad := strayQuote(list); bad != "" {
					c.report(RuleCommandQuoting, j.src, append(podSpecPath, "containers", "[name="+ctr.Name+"]", field),
						"Job %s container %s %s has the argument %q with a stray shell quote: Kubernetes runs no shell, so the quote reaches the program (was the command split on spaces?)", job.Name, ctr.Name, field, bad)
				}
			}
		}
		if rp := job.Spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever {
			c.report(RuleRestartPolicy, j.src, append(podSpecPath, "restartPolicy"), "Job %s restartPolicy is %q: the migration container is restarted in place after a failure", job.Name, rp)
		}
	}
}

// waiter returns the init container that waits for the migration Job and the Job name
// it waits for.
func waiter(d *appsv1.Deployment) (c *corev1.Container, mode, target string) {
	for i := range d.Spec.Template.Spec.InitContainers {
		ic := &d.Spec.Template.Spec.InitContainers[i]
		args := ic.Args
		if len(args) > 0 && args[0] == "wait" { // tandem wait job NAME
			args = args[1:]
		}
		if ic.Name == manifest.InitContainerName || len(args) > 0 && (args[0] == "job" || args[0] == "job-wr") {
			if len(args) >= 2 {
				return ic, args[0], args[1]
			}
			return ic, "", ""
		}
	}
	return nil, "", ""
}

func checkWaiters(c *checker) {
	if len(c.objs.jobs) == 0 {
		return
	}
	for i := range c.objs.deployments {
		d := &c.objs.deployments[i]
		dep := &d.obj
		init := append(podSpecPath, "initContainers")
		ic, mode, target := waiter(dep)
		if ic == nil {
			c.report(RuleWaitTarget, d.src, podSpecPath, "Deployment %s has no init container waiting for the migration Job: pods start before the schema is migrated", dep.Name)
			continue
		}
		argsPath := append(init, "[name="+ic.Name+"]", "args")
		if mode == "job" {
			c.report(RuleWaiterMode, d.src, argsPath, "waiter %s uses %q", ic.Name, mode)
		}
		job := c.jobNamed(target)
		if c.objs.built && job == nil {
			c.report(RuleWaitTarget, d.src, append(argsPath, "1"), "init container %s waits for Job %q, but the build holds %s: pods wait forever", ic.Name, target, c.jobNames())
		}
		if job == nil && len(c.objs.jobs) == 1 {
			job = &c.objs.jobs[0]
		}
		if job != nil {
			c.checkEnv(d, job)
		}
		c.checkRBAC(d)
	}
}

func (c *checker) jobNamed(name string) *item[batchv1.Job] {
	for i := range c.objs.jobs {
		if c.objs.jobs[i].obj.Name == name {
			return &c.objs.jobs[i]
		}
	}
	return nil
}

func (c *checker) jobNames() string {
	var names []string
	for _, j := range c.objs.jobs {
		names = append(names, fmt.Sprintf("%q", j.obj.Name))
	}
	return "Job " + strings.Join(names, ", ")
}

// envSources lists where a container's environment comes from, keyed by variable
// ("*" for envFrom).
func envSources(ctr corev1.Container) (from []string, vars map[string]string) {
	for _, e := range ctr.EnvFrom {
		switch {
		case e.ConfigMapRef != nil:
			from = append(from, "configMap "+e.ConfigMapRef.Name)
		case e.SecretRef != nil:
			from = append(from, "secret "+e.SecretRef.Name)
		}
	}
	slices.Sort(from)
	vars = map[string]string{}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			vars[e.Name] = "value " + e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			vars[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Name + " key " + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom.ConfigMapKeyRef != nil:
			vars[e.Name] = "configMap " + e.ValueFrom.ConfigMapKeyRef.Name + " key " + e.ValueFrom.ConfigMapKeyRef.Key
		}
	}
	return from, vars
}

func (c *checker) checkEnv(d *item[appsv1.Deployment], j *item[batchv1.Job]) {
	svc, mig := d.obj.Spec.Template.Spec.Containers, j.obj.Spec.Template.Spec.Containers
	if len(svc) == 0 || len(mig) == 0 {
		return
	}
	svcFrom, svcVars := envSources(svc[0])
	migFrom, migVars := envSources(mig[0])
	path := append(podSpecPath, "containers", "[name="+mig[0].Name+"]", "envFrom")
	if !slices.Equal(svcFrom, migFrom) {
		c.report(RuleEnv, j.src, path, "migration container envFrom %v differs from service %s's %v: the migration may reach another database", migFrom, svc[0].Name, svcFrom)
	}
	for name, src := range migVars {
		if other, ok := svcVars[name]; ok && other != src {
			c.report(RuleEnv, j.src, path[:len(path)-1], "env %s comes from %s in the migration but %s in the service", name, src, other)
		}
	}
}

func (c *checker) checkRBAC(d *item[appsv1.Deployment]) {
	sa := d.obj.Spec.Template.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	for _, b := range c.objs.bindings {
		if !slices.ContainsFunc(b.obj.Subjects, func(s rbacv1.Subject) bool { return s.Kind == "ServiceAccount" && s.Name == sa }) {
			continue
		}
		if c.roleAllowsJobs(b.obj.RoleRef) {
			return
		}
	}
	c.report(RuleRBAC, d.src, append(podSpecPath, "serviceAccountName"),
		"ServiceAccount %q of Deployment %s is bound to no Role allowing get, list and watch on batch jobs: the waiter gets Forbidden and pods never start", sa, d.obj.Name)
}

func (c *checker) roleAllowsJobs(ref rbacv1.RoleRef) bool {
	var rules []rbacv1.PolicyRule
	switch ref.Kind {
	case "Role":
		for _, r := range c.objs.roles {
			if r.obj.Name == ref.Name {
				rules = r.obj.Rules
			}
		}
	case "ClusterRole":
		if slices.Contains(builtinRoles, ref.Name) {
			return true
		}
		for _, r := range c.objs.clusterRoles {
			if r.obj.Name == ref.Name {
				rules = r.obj.Rules
			}
		}
	}
	need := map[string]bool{"get": false, "list": false, "watch": false}
	for _, r := range rules {
		if !anyOf(r.APIGroups, "batch") || !anyOf(r.Resources, "jobs") {
			continue
		}
		for v := range need {
			if anyOf(r.Verbs, v) {
				need[v] = true
			}
		}
	}
	return need["get"] && need["list"] && need["watch"]
}

func anyOf(list []string, want string) bool {
	return slices.Contains(list, want) || slices.Contains(list, "*")
}

func checkOrder(c *checker) {
	fileOf := func(kind string) int {
		for i, r := range c.src.resources {
			for _, d := range c.src.docs {
				if d.file == r && d.kind == kind {
					return i
				}
			}
		}
		return -1
	}
	jobAt, depAt := fileOf("Job"), fileOf("Deployment")
	if jobAt >= 0 && depAt >= 0 && jobAt > depAt {
		c.report(RuleOrder, nil, []string{"resources", fmt.Sprint(jobAt)}, "%s (the migration Job) is listed after %s (the Deployment): kubectl apply -k creates the pods first (Flux applies Deployments before Jobs whatever the order; only the init container gates the pods)", c.src.resources[jobAt], c.src.resources[depAt])
	}
	if !c.objs.built {
		return
	}
	firstJob, firstDep := -1, -1
	for i, r := range c.objs.raw {
		if r.kind == "Job" && firstJob < 0 {
			firstJob = i
		}
		if r.kind == "Deployment" && firstDep < 0 {
			firstDep = i
		}
	}
	if firstJob > firstDep && firstDep >= 0 && (jobAt < depAt || jobAt < 0) {
		c.report(RuleOrder, nil, []string{"resources"}, "the build emits the Job after the Deployment (kustomize's legacy order sorts Jobs last): kubectl apply -k creates the pods first (under Flux the order gates nothing; the init container does)")
	}
}

func checkImages(c *checker) {
	if c.objs.imageTag == "" {
		c.report(RuleImageTag, nil, []string{"resources"}, "no ConfigMap deployment-variables with data.IMAGE_TAG in the build: nothing carries the release tag")
	}
	if c.objs.built {
		for _, r := range c.objs.raw {
			if m := placeholder.Find(r.yaml); m != nil {
				src := c.src.sourceFor(r.kind, r.name)
				at := findScalar(src, func(v string) bool { return strings.Contains(v, "${") && bytes.Contains(r.yaml, []byte(v)) })
				c.reportAt(RuleImageTag, src, at, "%s %s still holds %s after the build: no replacement substitutes it", r.kind, r.name, m)
			}
		}
	}
	for _, j := range c.objs.jobs {
		c.checkContainerImages(j.src, "Job", j.obj.Name, j.obj.Spec.Template.Spec.Containers)
	}
	for _, d := range c.objs.deployments {
		c.checkContainerImages(d.src, "Deployment", d.obj.Name, d.obj.Spec.Template.Spec.Containers)
	}
}

func (c *checker) checkContainerImages(src *doc, kind, name string, ctrs []corev1.Container) {
	for _, ctr := range ctrs {
		path := append(podSpecPath, "containers", "[name="+ctr.Name+"]", "image")
		if !c.objs.built {
			if strings.Contains(ctr.Image, "${") && !c.targets(kind, name, "containers", "image") {
				c.report(RuleImageTag, src, path, "%s %s container %s image %q keeps its placeholder: no replacement targets the image, so the cluster pulls a tag that does not exist", kind, name, ctr.Name, ctr.Image)
			}
			continue
		}
		if _, err := gcrname.ParseReference(ctr.Image); err != nil && !strings.Contains(ctr.Image, "${") {
			c.report(RuleImageTag, src, path, "%s %s container %s image %q is not a valid reference after the build (%v): was the tag already written in the source?", kind, name, ctr.Name, ctr.Image, err)
			continue
		}
		switch t := imageTag(ctr.Image); {
		case strings.Contains(ctr.Image, "${") || c.objs.imageTag == "":
		case t == "":
			c.report(RuleImageTag, src, path, "%s %s container %s image %q has no tag after the build (the cluster pulls latest); IMAGE_TAG is %q", kind, name, ctr.Name, ctr.Image, c.objs.imageTag)
		case t != c.objs.imageTag:
			c.report(RuleImageTag, src, path, "%s %s container %s image %q has tag %q, IMAGE_TAG is %q: service and migration must ship the same build", kind, name, ctr.Name, ctr.Image, t, c.objs.imageTag)
		}
	}
}

// imageTag returns the tag of an image reference ("" when it has none).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	i := strings.LastIndex(ref, ":")
	if i < 0 || i < strings.LastIndex(ref, "/") {
		return ""
	}
	return ref[i+1:]
}

// targets reports whether any replacement target selects kind/name with a field path
// containing every one of parts.
func (c *checker) targets(kind, name string, parts ...string) bool {
	for _, r := range c.src.kust.Replacements {
		for _, t := range r.Targets {
			if t.Select == nil || !selects(t.Select.Kind, t.Select.Name, kind, name) {
				continue
			}
			for _, fp := range t.FieldPaths {
				if containsAll(fp, parts) {
					return true
				}
			}
		}
	}
	return false
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// selects matches a replacement selector the way kustomize does (anchored regexps).
func selects(selKind, selName, kind, name string) bool {
	match := func(pattern, v string) bool {
		if pattern == "" {
			return true
		}
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		return err == nil && re.MatchString(v)
	}
	return match(selKind, kind) && match(selName, name)
}

func checkReplacementIndex(c *checker) {
	// Judge by building, not by syntax: a configuration whose build carries the tag into
	// the Job name, the waiter's argument and both images is right, whatever placeholder
	// word (TAG, ${IMAGE_TAG}, none) and index style it uses.
	if c.objs.built && c.rendersTag() {
		return
	}
	for ri, r := range c.src.kust.Replacements {
		for ti, t := range r.Targets {
			if t.Select == nil || (t.Select.Kind != "Job" && t.Select.Kind != "Deployment") {
				continue
			}
			for _, d := range c.src.docs {
				if !selects(t.Select.Kind, t.Select.Name, d.kind, d.name) {
					continue
				}
				for _, fp := range t.FieldPaths {
					c.checkTargetIndex(ri, ti, d, fp, t.Options)
				}
			}
		}
	}
}

func (c *checker) checkTargetIndex(ri, ti int, d doc, fieldPath string, opts *types.FieldOptions) {
	path := utils.SmarterPathSplitter(fieldPath, ".")
	value := scalarAt(d.root, path...)
	if value == "" || strings.HasSuffix(fieldPath, "image") {
		return
	}
	where := []string{"replacements", fmt.Sprint(ri), "targets", fmt.Sprint(ti)}
	if opts == nil || opts.Delimiter == "" {
		if !placeholder.MatchString(value) || placeholder.FindString(value) != value {
			c.report(RuleReplacementIndex, nil, where, "target %s of %s %s has no delimiter/index: the whole value %q is replaced by the bare tag", fieldPath, d.kind, d.name, value)
		}
		return
	}
	parts := strings.Split(value, opts.Delimiter)
	if opts.Index < 0 || opts.Index >= len(parts) {
		return // out of range: kustomize appends delimiter+tag
	}
	if seg := parts[opts.Index]; !placeholder.MatchString(seg) {
		want := slices.IndexFunc(parts, func(p string) bool { return placeholder.MatchString(p) })
		hint := "no segment holds a placeholder"
		if want >= 0 {
			hint = fmt.Sprintf("the placeholder is at index %d", want)
		}
		c.report(RuleReplacementIndex, nil, where, "target %s of %s %s: index %d points at %q in %q, not at the tag (%s)", fieldPath, d.kind, d.name, opts.Index, seg, value, hint)
	}
}

func checkSelector(c *checker) {
	for _, d := range c.objs.deployments {
		if d.obj.Spec.Selector == nil {
			c.report(RuleDeploymentSelector, d.src, []string{"spec"}, "Deployment %s has no spec.selector: the API server rejects it", d.obj.Name)
		}
	}
}

// strayQuote returns the first argument that opens or closes a shell quote it does not
// also close or open: what splitting `sh -c "a b"` on spaces leaves behind.
func strayQuote(args []string) string {
	for _, a := range args {
		for _, q := range []string{`"`, `'`} {
			if n := strings.Count(a, q); n%2 == 1 && (strings.HasPrefix(a, q) || strings.HasSuffix(a, q)) {
				return a
			}
		}
	}
	return ""
}

// sentinelTag is the tag lint builds with to see where IMAGE_TAG lands.
const sentinelTag = "v9.8.7-tandem-lint"

// rendersTag builds the folder as if IMAGE_TAG were sentinelTag and reports whether every
// Job is named <name>-<tag>, every waiter waits for one of those Jobs by that name, and
// every container of the Jobs and Deployments runs an image tagged with it.
func (c *checker) rendersTag() bool {
	m, err := manifest.BuildWithTag(c.ctx, c.dir, sentinelTag)
	if err != nil {
		return false
	}
	cs, err := manifest.Containers(m)
	if err != nil {
		return false
	}
	var jobs []string
	for _, r := range m.Resources() {
		if r.GetKind() == "Job" {
			if !strings.HasSuffix(r.GetName(), "-"+sentinelTag) {
				return false
			}
			jobs = append(jobs, r.GetName())
		}
	}
	if len(jobs) == 0 {
		return false
	}
	waiters := 0
	for _, r := range m.Resources() {
		if r.GetKind() != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		data, err := r.AsYAML()
		if err != nil || sigsyaml.Unmarshal(data, &d) != nil {
			return false
		}
		if ic, _, target := waiter(&d); ic != nil {
			if !slices.Contains(jobs, target) {
				return false
			}
			waiters++
		}
	}
	if waiters == 0 {
		return false
	}
	for _, ctr := range cs {
		if !ctr.Init && (ctr.Kind == "Job" || ctr.Kind == "Deployment") && imageTag(ctr.Image) != sentinelTag {
			return false
		}
	}
	return true
}
