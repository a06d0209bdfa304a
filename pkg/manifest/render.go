package manifest

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/tandem-ci/tandem/internal/atomicfile"
	"github.com/tandem-ci/tandem/pkg/tag"
)

// AppendIndex is an index past any real segment: kustomize then appends the delimiter
// and the tag instead of replacing a segment. A DNS-1123 name of 63 characters has at
// most 31 dashes, so 99 is always out of range.
const AppendIndex = 99

// ErrExists is returned by Render when a file would be overwritten without WithForce.
var ErrExists = errors.New("file exists")

//go:embed templates/*.yaml
var templates embed.FS

// FileNames lists what Render writes, in the kustomization's resource order.
var FileNames = []string{
	"kustomization.yaml",
	"deployment-variables.yaml",
	"rbac.yaml",
	"migration-job.yaml",
	"deployment.yaml",
	"service.yaml",
}

// Result lists what Render wrote.
type Result struct {
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
}

type renderOptions struct{ force bool }

// RenderOption configures Render.
type RenderOption func(*renderOptions)

// WithForce lets Render overwrite existing files.
func WithForce() RenderOption { return func(o *renderOptions) { o.force = true } }

type templateData struct {
	Spec
	JobBase     string
	AppendIndex int
}

// Files renders the k8s/ folder for spec in memory, keyed by file name.
func Files(spec Spec) (map[string][]byte, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	data := templateData{Spec: spec, JobBase: tag.MigrationBase(spec.App), AppendIndex: AppendIndex}
	tmpl, err := template.New("").Funcs(template.FuncMap{"q": quote, "qlist": quoteList, "deref": func(p *int32) int32 { return *p }}).ParseFS(templates, "templates/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("parsing templates: %w", err)
	}
	out := make(map[string][]byte, len(FileNames))
	for _, name := range FileNames {
		var b bytes.Buffer
		if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", name, err)
		}
		out[name] = b.Bytes()
	}
	return out, nil
}

// Render writes the k8s/ folder for spec into dir. Without WithForce it refuses to
// overwrite any existing file and writes nothing. Each file is written atomically.
func Render(dir string, spec Spec, opts ...RenderOption) (Result, error) {
	var o renderOptions
	for _, opt := range opts {
		opt(&o)
	}
	files, err := Files(spec)
	if err != nil {
		return Result{}, err
	}
	if !o.force {
		var existing []string
		for _, name := range FileNames {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				existing = append(existing, filepath.Join(dir, name))
			}
		}
		if len(existing) > 0 {
			sort.Strings(existing)
			return Result{}, fmt.Errorf("rendering into %s: %w: %v; pass --force to overwrite", dir, ErrExists, existing)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	res := Result{Dir: dir}
	for _, name := range FileNames {
		path := filepath.Join(dir, name)
		if err := atomicfile.Write(path, files[name], 0o644); err != nil {
			return res, fmt.Errorf("writing %s: %w", path, err)
		}
		res.Files = append(res.Files, path)
	}
	return res, nil
}

// quote renders s as a double-quoted YAML scalar (JSON strings are valid YAML).
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // ">=1.0.0", not "\u003e=1.0.0"
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func quoteList(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}
