package manifest

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Container is one container of a workload in a build.
type Container struct {
	Kind      string `json:"kind"` // Job, Deployment, StatefulSet, DaemonSet, CronJob, Pod
	Name      string `json:"name"` // the workload's name
	Container string `json:"container"`
	Image     string `json:"image"`
	Init      bool   `json:"init,omitempty"`
	// File is the source file of the workload, relative to the kustomization, when the
	// build recorded origins (BuildWithTag with WithOrigins); empty otherwise.
	File string `json:"file,omitempty"`
}

// Where names the workload's source for messages: "file: Kind name" or "Kind name".
func (c Container) Where() string {
	if c.File != "" {
		return fmt.Sprintf("%s: %s %s", c.File, c.Kind, c.Name)
	}
	return c.Kind + " " + c.Name
}

// podSpecPaths is where each workload kind keeps its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":         {"spec"},
	"Job":         {"spec", "template", "spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

// Workload is a resource of a build that runs pods, with its pod spec.
type Workload struct {
	Kind, Name string
	// File is the source file, relative to the kustomization, when the build recorded
	// origins (BuildWithTag with WithOrigins); empty otherwise.
	File    string
	PodSpec *yaml.RNode
}

// Workloads lists the resources of m that run pods (podSpecPaths), in build order.
func Workloads(m resmap.ResMap) ([]Workload, error) {
	var out []Workload
	for _, r := range m.Resources() {
		p, ok := podSpecPaths[r.GetKind()]
		if !ok {
			continue
		}
		file := ""
		if o, err := r.GetOrigin(); err == nil && o != nil {
			file = o.Path
		}
		spec, err := r.Pipe(yaml.Lookup(p...))
		if err != nil {
			return nil, fmt.Errorf("%s %s: reading pod spec: %w", r.GetKind(), r.GetName(), err)
		}
		if spec == nil {
			continue
		}
		out = append(out, Workload{Kind: r.GetKind(), Name: r.GetName(), File: file, PodSpec: spec})
	}
	return out, nil
}

// Containers lists every container (init containers included) of the workloads in m,
// in build order.
func Containers(m resmap.ResMap) ([]Container, error) {
	ws, err := Workloads(m)
	if err != nil {
		return nil, err
	}
	var out []Container
	for _, w := range ws {
		for _, field := range []string{"initContainers", "containers"} {
			list, err := w.PodSpec.Pipe(yaml.Lookup(field))
			if err != nil || list == nil {
				continue
			}
			elems, err := list.Elements()
			if err != nil {
				return nil, fmt.Errorf("%s %s: %s: %w", w.Kind, w.Name, field, err)
			}
			for _, e := range elems {
				out = append(out, Container{Kind: w.Kind, Name: w.Name, Container: scalarField(e, "name"),
					Image: scalarField(e, "image"), Init: field == "initContainers", File: w.File})
			}
		}
	}
	return out, nil
}

func scalarField(n *yaml.RNode, field string) string {
	v, err := n.Pipe(yaml.Lookup(field))
	if err != nil || v == nil {
		return ""
	}
	return yaml.GetValue(v)
}
