package preflight

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/resmap"

	"github.com/tandem-ci/tandem/pkg/manifest"
)

// ErrNoWorkload is returned when a build has no container running the given repository.
var ErrNoWorkload = errors.New("image not in the manifests")

// FromManifests finds, in a build of the manifests (manifest.BuildWithTag), the container
// of a workload of kind (Job, Deployment, any kind manifest.Workloads knows) whose image
// is in repository: its image, command, args and literal environment, including the
// data of ConfigMaps it takes envFrom when they are part of the build (in key order). Values the build cannot give (Secrets, ConfigMaps made elsewhere,
// valueFrom) are listed in Unresolved.
func FromManifests(m resmap.ResMap, kind, repository string) (Container, error) {
	configMaps := map[string]map[string]string{}
	for _, r := range m.Resources() {
		if r.GetKind() == "ConfigMap" {
			configMaps[r.GetName()] = r.GetDataMap()
		}
	}
	workloads, err := manifest.Workloads(m)
	if err != nil {
		return Container{}, err
	}
	var specs []corev1.PodSpec
	for _, w := range workloads {
		if w.Kind != kind {
			continue
		}
		b, err := w.PodSpec.MarshalJSON()
		if err != nil {
			return Container{}, err
		}
		var spec corev1.PodSpec
		if err := json.Unmarshal(b, &spec); err != nil {
			return Container{}, fmt.Errorf("%s %s: pod spec: %w", w.Kind, w.Name, err)
		}
		specs = append(specs, spec)
	}
	var others []string
	for _, spec := range specs {
		for _, c := range spec.Containers {
			if repositoryOf(c.Image) != repository {
				others = append(others, c.Image)
				continue
			}
			out := Container{Image: c.Image, Command: c.Command, Args: c.Args}
			for _, from := range c.EnvFrom {
				switch {
				case from.ConfigMapRef != nil:
					data, ok := configMaps[from.ConfigMapRef.Name]
					if !ok {
						out.Unresolved = append(out.Unresolved, "ConfigMap "+from.ConfigMapRef.Name)
						continue
					}
					for _, k := range slices.Sorted(maps.Keys(data)) {
						out.Env = append(out.Env, from.Prefix+k+"="+data[k])
					}
				case from.SecretRef != nil:
					out.Unresolved = append(out.Unresolved, "Secret "+from.SecretRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil {
					out.Unresolved = append(out.Unresolved, "env "+e.Name)
					continue
				}
				out.Env = append(out.Env, e.Name+"="+e.Value)
			}
			return out, nil
		}
	}
	found := "there is none"
	if len(others) > 0 {
		found = "they run " + strings.Join(others, ", ")
	}
	return Container{}, fmt.Errorf("%w: no %s container runs an image of %s (%s)", ErrNoWorkload, kind, repository, found)
}

// repositoryOf strips the tag and digest of an image reference.
func repositoryOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}
