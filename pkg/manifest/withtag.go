package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/tandem-ci/tandem/pkg/tag"
	"github.com/tandem-ci/tandem/pkg/variables"
)

// BuildWithTag builds the kustomization in dir as if IMAGE_TAG were releaseTag, without
// touching the files: the folder is copied into memory and the tag set there.
func BuildWithTag(dir, releaseTag string) (resmap.ResMap, error) {
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
	return BuildFS(mem, abs)
}
