package manifest

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Build runs kustomize over the kustomization in dir, in-process, with the options
// `kustomize build` uses (legacy ordering unless the kustomization sets sortOptions).
func Build(dir string) (resmap.ResMap, error) {
	return BuildFS(filesys.MakeFsOnDisk(), dir)
}

// BuildFS is Build over any kustomize file system (e.g. an in-memory one).
func BuildFS(fs filesys.FileSystem, dir string) (resmap.ResMap, error) {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	m, err := krusty.MakeKustomizer(opts).Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("building kustomization %s: %w", dir, err)
	}
	return m, nil
}

// BuildYAML is Build, rendered as a multi-document YAML stream like `kustomize build`.
func BuildYAML(dir string) ([]byte, error) {
	m, err := Build(dir)
	if err != nil {
		return nil, err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("encoding build of %s: %w", dir, err)
	}
	return out, nil
}
