package manifest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
// touching the files: the build reads the folder from disk, with the variables file (and,
// WithOrigins, the kustomization) replaced by edited copies held in memory. Any folder
// name kustomize builds on disk works (spaces, non-ASCII).
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
	file, _, err := variables.FindIn(abs)
	if err != nil {
		return nil, fmt.Errorf("building %s with tag %s: %w", dir, releaseTag, err)
	}
	over := overlay{FileSystem: filesys.MakeFsOnDisk(), files: map[string][]byte{}}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out, _, err := variables.Set(data, releaseTag)
	switch {
	case errors.Is(err, variables.ErrUnchanged):
		out = data
	case err != nil:
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	over.set(file, out)
	if o.origins {
		for _, n := range konfig.RecognizedKustomizationFileNames() {
			k := filepath.Join(abs, n)
			data, err := os.ReadFile(k)
			if err != nil {
				continue
			}
			if data, err = withOriginAnnotations(data); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			over.set(k, data)
			break
		}
	}
	return BuildFS(ctx, over, abs)
}

// overlay is the file system on disk with some files' contents replaced.
type overlay struct {
	filesys.FileSystem
	files map[string][]byte
}

// set replaces the contents of path, under its own name and the one its symlinks resolve to.
func (o overlay) set(path string, data []byte) {
	o.files[filepath.Clean(path)] = data
	if real, err := filepath.EvalSymlinks(path); err == nil {
		o.files[real] = data
	}
}

// ReadFile implements filesys.FileSystem.
func (o overlay) ReadFile(path string) ([]byte, error) {
	if data, ok := o.files[filepath.Clean(path)]; ok {
		return append([]byte(nil), data...), nil
	}
	return o.FileSystem.ReadFile(path)
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
