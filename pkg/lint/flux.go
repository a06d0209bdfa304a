package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tandem-ci/tandem/pkg/naming"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// Option configures Lint.
type Option func(*options)

type options struct {
	fluxDir   string
	tagFormat string
	shownAs   string
}

// WithDisplayName shows the folder as name in the report (Report.Dir and messages): for
// a folder copied elsewhere before linting (the Dagger module exports its source to a
// temporary folder), findings then name the repository's path.
func WithDisplayName(name string) Option { return func(o *options) { o.shownAs = name } }

// WithFluxDir also checks the Flux objects (OCIRepository, Kustomization) in dir against
// the folder: the default is flux/ beside it, when present.
func WithFluxDir(dir string) Option { return func(o *options) { o.fluxDir = dir } }

// WithTagFormat is the release tag format the OCIRepository's ref.semver must accept
// (default tag.DefaultFormat).
func WithTagFormat(format string) Option { return func(o *options) { o.tagFormat = format } }

// defaultFluxDir is flux/ beside dir, as tandem init writes it.
func defaultFluxDir(dir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(dir)), "flux")
}

// loadFlux reads the YAML documents of the Flux folder; file names are relative to dir
// (the kustomization folder), so findings point at them.
func loadFlux(dir, fluxDir string) ([]doc, error) {
	entries, err := os.ReadDir(fluxDir)
	if err != nil {
		return nil, nil // no Flux folder: nothing to check
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []doc
	for _, n := range names {
		rel, err := filepath.Rel(dir, filepath.Join(fluxDir, n))
		if err != nil {
			rel = filepath.Join(fluxDir, n)
		}
		docs, err := readDocs(filepath.Join(fluxDir, n), rel)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if d.kind == "OCIRepository" || d.kind == "Kustomization" && strings.HasPrefix(scalarAt(d.root, "apiVersion"), "kustomize.toolkit.fluxcd.io/") {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// checkFlux checks the Flux objects against the build: the OCIRepository follows tags
// the release produces, from the repository the release pushes to, and the
// Kustomization's target namespace agrees with the manifests.
func checkFlux(c *checker) {
	if len(c.flux) == 0 || !c.objs.built {
		return
	}
	format := c.opts.tagFormat
	if format == "" {
		format = tag.DefaultFormat
	}
	sample, err := tag.Compute(tag.Config{PipelineID: "4242", CommitSHA: "0123456789abcdef0123456789abcdef01234567", Branch: "main", Format: format})
	if err != nil {
		return
	}
	artifactRepo := c.artifactRepository()
	for i := range c.flux {
		d := &c.flux[i]
		switch d.kind {
		case "OCIRepository":
			if s := scalarAt(d.root, "spec", "ref", "semver"); s != "" {
				cons, err := semver.NewConstraint(s)
				v, verr := semver.NewVersion(strings.TrimPrefix(sample.Tag, "v"))
				switch {
				case err != nil:
					c.report(RuleFluxSemver, d, []string{"spec", "ref", "semver"}, "OCIRepository %s ref.semver %q does not parse: %v", d.name, s, err)
				case verr != nil:
					c.report(RuleFluxSemver, d, []string{"spec", "ref", "semver"}, "OCIRepository %s follows ref.semver %q, but release tags (%s, format %q) are not semantic versions: Flux never picks them", d.name, s, sample.Tag, format)
				case !cons.Check(v):
					c.report(RuleFluxSemver, d, []string{"spec", "ref", "semver"}, "OCIRepository %s ref.semver %q never matches the release tags (e.g. %s, format %q): Flux stays on the old artifact", d.name, s, sample.Tag, format)
				}
			}
			url := strings.TrimPrefix(scalarAt(d.root, "spec", "url"), "oci://")
			if artifactRepo != "" && !sameRepository(url, artifactRepo) {
				c.report(RuleFluxURL, d, []string{"spec", "url"}, "OCIRepository %s pulls oci://%s, but the release pushes the artifact to oci://%s (<service image>/manifests)", d.name, url, artifactRepo)
			}
		case "Kustomization":
			target := scalarAt(d.root, "spec", "targetNamespace")
			if target == "" {
				continue
			}
			for _, p := range c.namespaced() {
				if p.ns != "" && p.ns != target {
					c.report(RuleFluxNamespace, d, []string{"spec", "targetNamespace"}, "Kustomization %s puts every object in namespace %s, but %s says %s: %s", d.name, target, p.what, p.ns, p.why)
				}
			}
		}
	}
}

// artifactRepository is where the release pushes the manifests: the naming rule applied
// to the service image the Deployment runs.
func (c *checker) artifactRepository() string {
	for _, d := range c.objs.deployments {
		for _, ctr := range d.obj.Spec.Template.Spec.Containers {
			if r, err := name.ParseReference(ctr.Image); err == nil {
				_, _, art := naming.Repositories("", "", r.Context().Name(), "", "")
				return art
			}
		}
	}
	return ""
}

func sameRepository(a, b string) bool {
	ra, errA := name.NewRepository(a)
	rb, errB := name.NewRepository(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return ra.Name() == rb.Name()
}

type placed struct{ what, ns, why string }

// namespaced lists the namespaces the manifests name explicitly: objects' own, and the
// ServiceAccount a RoleBinding grants (targetNamespace moves objects, not subjects).
func (c *checker) namespaced() []placed {
	var out []placed
	for _, j := range c.objs.jobs {
		out = append(out, placed{"Job " + j.obj.Name, j.obj.Namespace, "the Job and the waiter must share a namespace"})
	}
	for _, d := range c.objs.deployments {
		out = append(out, placed{"Deployment " + d.obj.Name, d.obj.Namespace, "the Deployment and the Job must share a namespace"})
	}
	for _, b := range c.objs.bindings {
		for _, s := range b.obj.Subjects {
			if s.Kind == "ServiceAccount" {
				out = append(out, placed{fmt.Sprintf("RoleBinding %s subject %s", b.obj.Name, s.Name), s.Namespace,
					"the waiter's ServiceAccount would get no rights in the target namespace (targetNamespace does not rewrite subjects)"})
			}
		}
	}
	return out
}
