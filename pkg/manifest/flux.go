package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tandem-ci/tandem/internal/atomicfile"
	"github.com/tandem-ci/tandem/pkg/naming"
)

// Flux defaults.
const (
	DefaultFluxNamespace = "flux-system"
	// DefaultSemver follows the default tag format v1.<pipeline id>.0.
	DefaultSemver = ">=1.0.0"
)

// FluxSpec describes the Flux objects that deploy one app's artifact: an OCIRepository
// following the newest tag and a Kustomization applying it. They live outside the
// artifact (a folder of their own), applied once per cluster.
type FluxSpec struct {
	App             string `json:"app"`
	Namespace       string `json:"namespace,omitempty"`       // of the Flux objects; default flux-system
	TargetNamespace string `json:"targetNamespace,omitempty"` // the app's namespace (the k8s/ kustomization's)
	ArtifactRepo    string `json:"artifactRepository"`        // host/path, without oci://
	Semver          string `json:"semver,omitempty"`          // ref.semver; default DefaultSemver
	Insecure        bool   `json:"insecure,omitempty"`        // plain-HTTP registry
	Interval        string `json:"interval,omitempty"`        // default 5m
	Timeout         string `json:"timeout,omitempty"`         // Kustomization wait timeout; default 5m
	SecretRef       string `json:"secretRef,omitempty"`       // pull secret for the registry
}

// FluxFileName is the file FluxFiles renders, in its own folder.
func FluxFileName(app string) string { return app + ".yaml" }

// fluxTemplate renders both objects; quote keeps every value a YAML string.
var fluxTemplate = template.Must(template.New("flux").Funcs(template.FuncMap{"q": quote}).Parse(`# Flux objects for {{.App}}: apply once per cluster (kubectl apply -f), not part of the
# artifact. The OCIRepository follows the newest release tag matching ref.semver; the
# Kustomization applies it, prunes what a release removes, and waits for the Job and the
# Deployment to become ready.
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: {{q .App}}
  namespace: {{q .Namespace}}
spec:
  interval: {{.Interval}}
  url: {{q .URL}}
  ref:
    semver: {{q .Semver}}
{{- if .Insecure}}
  insecure: true
{{- end}}
{{- if .SecretRef}}
  secretRef:
    name: {{q .SecretRef}}
{{- end}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {{q .App}}
  namespace: {{q .Namespace}}
spec:
  interval: 10m
  sourceRef:
    kind: OCIRepository
    name: {{q .App}}
  path: ./
  prune: true
  wait: true
  timeout: {{.Timeout}}
{{- if .TargetNamespace}}
  targetNamespace: {{q .TargetNamespace}}
{{- end}}
`))

// WithDefaults fills the empty optional fields.
func (f FluxSpec) WithDefaults() FluxSpec {
	if f.Namespace == "" {
		f.Namespace = DefaultFluxNamespace
	}
	if f.Semver == "" {
		f.Semver = DefaultSemver
	}
	if f.Interval == "" {
		f.Interval = "5m"
	}
	if f.Timeout == "" {
		f.Timeout = "5m"
	}
	return f
}

// FluxFromSpec derives the Flux objects' spec from the k8s/ spec, with the artifact
// repository of the naming rule every door shares (<service image>/manifests).
func FluxFromSpec(s Spec) FluxSpec {
	_, _, art := naming.Repositories("", s.App, s.Image, s.MigrationImage, "")
	return FluxSpec{App: s.App, TargetNamespace: s.Namespace, ArtifactRepo: art}
}

// FluxFile renders the Flux objects.
func FluxFile(f FluxSpec) ([]byte, error) {
	f = f.WithDefaults()
	var errs []string
	if len(validation.IsDNS1123Subdomain(f.App)) > 0 {
		errs = append(errs, fmt.Sprintf("app %q: not a DNS-1123 name", f.App))
	}
	for _, n := range []struct{ field, v string }{{"namespace", f.Namespace}, {"targetNamespace", f.TargetNamespace}} {
		if n.v != "" && len(validation.IsDNS1123Label(n.v)) > 0 {
			errs = append(errs, fmt.Sprintf("%s %q: not a DNS-1123 label", n.field, n.v))
		}
	}
	if err := naming.ValidateRepository(f.ArtifactRepo); err != nil {
		errs = append(errs, fmt.Sprintf("artifact repository %q: %v", f.ArtifactRepo, err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrInvalidSpec, strings.Join(errs, "\n  "))
	}
	var b bytes.Buffer
	data := struct {
		FluxSpec
		URL string
	}{f, "oci://" + strings.TrimPrefix(f.ArtifactRepo, "oci://")}
	if err := fluxTemplate.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// FluxAbsent returns ErrExists when dir already holds the Flux file of app (callers check
// before writing anything, so a refusal leaves nothing half-written).
func FluxAbsent(dir, app string) error {
	path := filepath.Join(dir, FluxFileName(app))
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return fmt.Errorf("rendering into %s: %w: %s; pass --force to overwrite", dir, ErrExists, path)
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	return nil
}

// RenderFlux writes the Flux objects into dir/<app>.yaml; like Render it refuses to
// overwrite without WithForce.
func RenderFlux(dir string, f FluxSpec, opts ...RenderOption) (string, error) {
	var o renderOptions
	for _, opt := range opts {
		opt(&o)
	}
	b, err := FluxFile(f)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FluxFileName(f.App))
	if !o.force {
		if err := FluxAbsent(dir, f.App); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}
