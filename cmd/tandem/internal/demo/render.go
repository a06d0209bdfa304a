package demo

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/kustomize/api/resmap"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/tandem-ci/tandem/pkg/manifest"
)

// inspect reads the names and images a release depends on from a build.
func inspect(m resmap.ResMap) (Rendered, error) {
	var rd Rendered
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return rd, err
		}
		switch r.GetKind() {
		case "Job":
			var j batchv1.Job
			if err := sigsyaml.Unmarshal(y, &j); err != nil {
				return rd, err
			}
			rd.JobName = j.Name
			if c := j.Spec.Template.Spec.Containers; len(c) > 0 {
				rd.MigrationImage = c[0].Image
			}
		case "Deployment":
			var d appsv1.Deployment
			if err := sigsyaml.Unmarshal(y, &d); err != nil {
				return rd, err
			}
			for _, ic := range d.Spec.Template.Spec.InitContainers {
				if ic.Name == manifest.InitContainerName && len(ic.Args) > 1 {
					rd.WaitsFor = ic.Args[1]
				}
			}
			if c := d.Spec.Template.Spec.Containers; len(c) > 0 {
				rd.ServiceImage = c[0].Image
			}
		}
	}
	if rd.JobName == "" || rd.WaitsFor == "" {
		return rd, fmt.Errorf("the build has no migration Job or no waiter: %+v", rd)
	}
	return rd, nil
}
