package manifest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/tandem-ci/tandem/pkg/tag"
	"github.com/tandem-ci/tandem/pkg/variables"
)

type buildOptions struct{ origins bool }

// BuildOption configures BuildWithTag.
type BuildOption func(*buildOptions)

// WithOrigins records each resource's source file (kustomize's originAnnotations build
// metadata), so Containers can name the file of a workload. The folder is not changed.
func WithOrigins() BuildOption { return func(o *buildOptions) { o.origins = true } }

// BuildWithTag builds the kustomization in dir as if IMAGE_TAG were releaseTag, without
// touching the files: the folder is copied into memory and the tag set there.
func BuildWithTag(ctx context.Context, dir, releaseTag string, opts ...BuildOption) (resmap.ResMap, error) {
	var o buildOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := tag.Validate(releaseTag); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", dir, err)
	}
	mem := filesys.MakeFsInMemory()
	set := false
	err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if o.origins && filepath.Dir(path) == abs && slices.Contains(konfig.RecognizedKustomizationFileNames(), d.Name()) {
			if data, err = withOriginAnnotations(data); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		if ext := filepath.Ext(path); !set && (ext == ".yaml" || ext == ".yml") {
			out, _, err := variables.Set(data, releaseTag)
			switch {
			case err == nil:
				data, set = out, true
			case errors.Is(err, variables.ErrUnchanged):
				set = true
			case !errors.Is(err, variables.ErrNotFound) && !errors.Is(err, variables.ErrNotYAML):
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		return mem.WriteFile(path, data)
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	if !set {
		return nil, fmt.Errorf("building %s with tag %s: no file holds ConfigMap %s with data.%s: %w", dir, releaseTag, variables.ConfigMapName, variables.Key, variables.ErrNotFound)
	}
	return BuildFS(ctx, mem, abs)
}

// withOriginAnnotations adds originAnnotations to the kustomization's buildMetadata.
func withOriginAnnotations(data []byte) ([]byte, error) {
	k, err := yaml.Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("parsing kustomization: %w", err)
	}
	list, err := k.Pipe(yaml.LookupCreate(yaml.SequenceNode, "buildMetadata"))
	if err != nil {
		return nil, fmt.Errorf("reading buildMetadata: %w", err)
	}
	for _, n := range list.Content() {
		if n.Value == types.OriginAnnotations {
			return data, nil
		}
	}
	if err := list.PipeE(yaml.Append(yaml.NewScalarRNode(types.OriginAnnotations).YNode())); err != nil {
		return nil, err
	}
	s, err := k.String()
	return []byte(s), err
}
