package preflight

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/resmap"
)

// ErrNoWorkload is returned when a build has no container running the given repository.
var ErrNoWorkload = errors.New("image not in the manifests")

// FromManifests finds, in a build of the manifests (manifest.BuildWithTag), the container
// of kind (Job or Deployment) whose image is in repository: its image, command, args and
// literal environment, including the data of ConfigMaps it takes envFrom when they are
// part of the build. Values the build cannot give (Secrets, ConfigMaps made elsewhere,
// valueFrom) are listed in Unresolved.
func FromManifests(m resmap.ResMap, kind, repository string) (Container, error) {
	configMaps := map[string]map[string]string{}
	var specs []corev1.PodSpec
	for _, r := range m.Resources() {
		b, err := r.MarshalJSON()
		if err != nil {
			return Container{}, err
		}
		switch r.GetKind() {
		case "ConfigMap":
			var cm corev1.ConfigMap
			if err := json.Unmarshal(b, &cm); err != nil {
				return Container{}, fmt.Errorf("ConfigMap %s: %w", r.GetName(), err)
			}
			configMaps[cm.Name] = cm.Data
		case kind:
			switch kind {
			case "Job":
				var j batchv1.Job
				if err := json.Unmarshal(b, &j); err != nil {
					return Container{}, fmt.Errorf("Job %s: %w", r.GetName(), err)
				}
				specs = append(specs, j.Spec.Template.Spec)
			case "Deployment":
				var d appsv1.Deployment
				if err := json.Unmarshal(b, &d); err != nil {
					return Container{}, fmt.Errorf("Deployment %s: %w", r.GetName(), err)
				}
				specs = append(specs, d.Spec.Template.Spec)
			}
		}
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
					for k, v := range data {
						out.Env = append(out.Env, from.Prefix+k+"="+v)
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
