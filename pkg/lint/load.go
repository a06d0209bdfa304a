package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"
)

// ErrNoKustomization is returned when the folder holds no kustomization file.
var ErrNoKustomization = errors.New("no kustomization.yaml")

// source is the folder as written: the kustomization and its local resource files.
type source struct {
	dir       string
	kustFile  string
	kustRoot  *yaml.Node
	kust      types.Kustomization
	resources []string // local files, in the order listed
	docs      []doc
}

// doc is one YAML document of a resource file.
type doc struct {
	file string
	root *yaml.Node
	kind string
	name string
}

func loadSource(dir string) (*source, error) {
	s := &source{dir: dir}
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			s.kustFile = p
			break
		}
	}
	if s.kustFile == "" {
		return nil, fmt.Errorf("linting %s: %w: point tandem lint at the folder holding it (e.g. k8s/)", dir, ErrNoKustomization)
	}
	data, err := os.ReadFile(s.kustFile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.kustFile, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", s.kustFile, err)
	}
	if len(root.Content) > 0 {
		s.kustRoot = root.Content[0]
	}
	if err := sigsyaml.Unmarshal(data, &s.kust); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", s.kustFile, err)
	}
	for _, r := range s.kust.Resources {
		p := filepath.Join(dir, r)
		if info, err := os.Stat(p); err != nil || !info.Mode().IsRegular() {
			continue // remote or directory resources are built, not read as source
		}
		s.resources = append(s.resources, r)
		docs, err := readDocs(p, r)
		if err != nil {
			return nil, err
		}
		s.docs = append(s.docs, docs...)
	}
	return s, nil
}

func readDocs(path, rel string) ([]doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []doc
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", path, err)
		}
		if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			continue
		}
		r := n.Content[0]
		docs = append(docs, doc{file: rel, root: r, kind: scalarAt(r, "kind"), name: scalarAt(r, "metadata", "name")})
	}
}

// sourceFor finds the source document a built object came from: same kind and same name,
// or a name the build extended (the tag appended), or the only document of that kind.
func (s *source) sourceFor(kind, name string) *doc {
	var prefix, only *doc
	n := 0
	for i := range s.docs {
		d := &s.docs[i]
		if d.kind != kind {
			continue
		}
		n++
		only = d
		switch {
		case d.name == name:
			return d
		case strings.HasPrefix(name, d.name+"-") || strings.Contains(d.name, "${"):
			prefix = d
		}
	}
	if prefix != nil {
		return prefix
	}
	if n == 1 {
		return only
	}
	return nil
}

// objects are the typed resources the checks look at, built or (when the build fails)
// as written.
type objects struct {
	built        bool
	imageTag     string
	jobs         []item[batchv1.Job]
	deployments  []item[appsv1.Deployment]
	roles        []item[rbacv1.Role]
	clusterRoles []item[rbacv1.ClusterRole]
	bindings     []item[rbacv1.RoleBinding]
	raw          []rawObject
}

type rawObject struct {
	kind, name string
	yaml       []byte
}

// item is a typed object and the source document it came from.
type item[T any] struct {
	obj T
	src *doc
}

func (o *objects) add(s *source, kind, name string, data []byte) error {
	o.raw = append(o.raw, rawObject{kind, name, data})
	src := s.sourceFor(kind, name)
	var err error
	switch kind {
	case "Job":
		err = addTyped(&o.jobs, data, src)
	case "Deployment":
		err = addTyped(&o.deployments, data, src)
	case "Role":
		err = addTyped(&o.roles, data, src)
	case "ClusterRole":
		err = addTyped(&o.clusterRoles, data, src)
	case "RoleBinding":
		err = addTyped(&o.bindings, data, src)
	case "ConfigMap":
		var cm corev1.ConfigMap
		if sigsyaml.Unmarshal(data, &cm) == nil && strings.HasPrefix(cm.Name, "deployment-variables") {
			o.imageTag = cm.Data["IMAGE_TAG"]
		}
	}
	if err != nil {
		return fmt.Errorf("decoding %s %s: %w", kind, name, err)
	}
	return nil
}

func addTyped[T any](list *[]item[T], data []byte, src *doc) error {
	var v T
	if err := sigsyaml.Unmarshal(data, &v); err != nil {
		return err
	}
	*list = append(*list, item[T]{obj: v, src: src})
	return nil
}

// fromSource decodes the documents as written, for when the build fails.
func fromSource(s *source) (*objects, error) {
	o := &objects{}
	for _, d := range s.docs {
		data, err := yaml.Marshal(d.root)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", d.file, err)
		}
		if err := o.add(s, d.kind, d.name, data); err != nil {
			return nil, fmt.Errorf("%s: %w", d.file, err)
		}
	}
	return o, nil
}

// child follows mapping keys, "[name=x]" sequence selectors and numeric indexes.
func child(n *yaml.Node, path ...string) *yaml.Node {
	for _, p := range path {
		if n == nil {
			return nil
		}
		switch {
		case n.Kind == yaml.SequenceNode && strings.HasPrefix(p, "[name="):
			want := strings.TrimSuffix(strings.TrimPrefix(p, "[name="), "]")
			var next *yaml.Node
			for _, e := range n.Content {
				if scalarAt(e, "name") == want {
					next = e
					break
				}
			}
			n = next
		case n.Kind == yaml.SequenceNode:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		case n.Kind == yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					next = n.Content[i+1]
					break
				}
			}
			n = next
		default:
			return nil
		}
	}
	return n
}

func scalarAt(n *yaml.Node, path ...string) string {
	if c := child(n, path...); c != nil && c.Kind == yaml.ScalarNode {
		return c.Value
	}
	return ""
}
