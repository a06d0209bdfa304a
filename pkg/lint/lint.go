package lint

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tandem-ci/tandem/pkg/manifest"
)

// Finding is one broken rule at one place.
type Finding struct {
	Rule     string   `json:"rule"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}

func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return fmt.Sprintf("%s: %s %s (%s): %s\n  fix: %s", loc, f.Severity, f.Rule, f.Name, f.Message, f.Fix)
}

// Report is the result of linting one folder.
type Report struct {
	Dir      string    `json:"dir"`
	Built    bool      `json:"built"`
	Findings []Finding `json:"findings"`
}

// Errors counts the findings of severity error.
func (r Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

// Lint builds the kustomization in dir and checks it. The error is for folders that
// cannot be linted at all (no kustomization, unreadable files); every problem of the
// manifests themselves is a Finding, including a build that fails.
func Lint(ctx context.Context, dir string, opts ...Option) (Report, error) {
	rep := Report{Dir: dir, Findings: []Finding{}}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.fluxDir == "" {
		o.fluxDir = defaultFluxDir(dir)
	}
	src, err := loadSource(dir)
	if err != nil {
		return rep, err
	}
	c := &checker{ctx: ctx, src: src, dir: dir, opts: o}
	if c.flux, err = loadFlux(dir, o.fluxDir); err != nil {
		return rep, err
	}
	objs, buildErr := c.build()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if buildErr != nil {
		msg := buildErr.Error()
		if o.shownAs != "" {
			abs, _ := filepath.Abs(dir)
			msg = strings.ReplaceAll(strings.ReplaceAll(msg, abs, o.shownAs), dir, o.shownAs)
		}
		c.report(RuleBuild, nil, nil, "%s", msg)
		if objs, err = fromSource(src); err != nil {
			return rep, err
		}
	}
	rep.Built = objs.built
	c.objs = objs
	for _, check := range checks {
		check(c)
	}
	sort.SliceStable(c.findings, func(i, j int) bool {
		a, b := c.findings[i], c.findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Rule < b.Rule
	})
	rep.Findings = append(rep.Findings, c.findings...)
	if o.shownAs != "" {
		rep.Dir = o.shownAs
	}
	return rep, nil
}

type checker struct {
	ctx      context.Context
	dir      string
	src      *source
	objs     *objects
	flux     []doc // the Flux objects, when the Flux folder has any
	opts     options
	findings []Finding
}

func (c *checker) build() (*objects, error) {
	m, err := manifest.Build(c.ctx, c.dir)
	if err != nil {
		return nil, err
	}
	o := &objects{built: true}
	for _, r := range m.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s: %w", r.GetKind(), r.GetName(), err)
		}
		if err := o.add(c.src, r.GetKind(), r.GetName(), data); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// report records a finding located at path inside src (or the kustomization when src is
// nil); the line is that of the deepest part of path present in the file.
func (c *checker) report(rule Rule, src *doc, path []string, format string, args ...any) {
	root := c.src.kustRoot
	if src != nil {
		root = src.root
	}
	var at *yaml.Node
	for i := len(path); i > 0 && root != nil; i-- {
		if at = child(root, path[:i]...); at != nil {
			break
		}
	}
	c.reportAt(rule, src, at, format, args...)
}

// reportAt records a finding at node n of src (or of the kustomization when src is nil);
// without n, at the document's first line.
func (c *checker) reportAt(rule Rule, src *doc, n *yaml.Node, format string, args ...any) {
	f := Finding{Rule: rule.ID, Name: rule.Name, Severity: rule.Severity, Fix: rule.Fix, Message: fmt.Sprintf(format, args...)}
	root := c.src.kustRoot
	f.File = filepath.Base(c.src.kustFile)
	if src != nil {
		root, f.File = src.root, src.file
	}
	switch {
	case n != nil:
		f.Line = n.Line
	case root != nil:
		f.Line = root.Line
	}
	c.findings = append(c.findings, f)
}

// findScalar returns the first scalar of src whose value matches.
func findScalar(src *doc, match func(string) bool) *yaml.Node {
	if src == nil {
		return nil
	}
	var walk func(n *yaml.Node) *yaml.Node
	walk = func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.ScalarNode && match(n.Value) {
			return n
		}
		for _, c := range n.Content {
			if found := walk(c); found != nil {
				return found
			}
		}
		return nil
	}
	return walk(src.root)
}
