package manifest

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// ErrRemoteBase is returned when a kustomization refers to something outside the file
// system (a git or HTTP base): tandem builds offline, as Flux's kustomize-controller
// does with --no-remote-bases, and a base fetched at build time can hang the build or
// change under a release.
var ErrRemoteBase = errors.New("remote bases are not allowed")

// ErrEmpty is returned by CheckNotEmpty for a kustomization that builds no resource:
// shipped with Flux's prune, it deletes the app.
var ErrEmpty = errors.New("the kustomization builds no resources")

// Build runs kustomize over the kustomization in dir, in-process, with the options
// `kustomize build` uses (legacy ordering unless the kustomization sets sortOptions).
// Remote bases are refused (ErrRemoteBase).
func Build(dir string) (resmap.ResMap, error) {
	return BuildFS(filesys.MakeFsOnDisk(), dir)
}

// BuildFS is Build over any kustomize file system (e.g. an in-memory one).
func BuildFS(fs filesys.FileSystem, dir string) (resmap.ResMap, error) {
	if err := localOnly(fs, dir, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("building kustomization %s: %w", dir, err)
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	m, err := krusty.MakeKustomizer(opts).Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("building kustomization %s: %w", dir, err)
	}
	return m, nil
}

// localOnly checks that every resource, base and component of the kustomization in dir,
// and of the local kustomizations it includes, exists in fs. Anything else kustomize
// would try to fetch (git clone, HTTP GET).
func localOnly(fs filesys.FileSystem, dir string, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	var file string
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if fs.Exists(filepath.Join(dir, n)) {
			file = filepath.Join(dir, n)
			break
		}
	}
	if file == "" {
		return nil // kustomize reports the missing kustomization itself
	}
	data, err := fs.ReadFile(file)
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := sigsyaml.Unmarshal(data, &k); err != nil {
		return nil // kustomize reports the parse error with its own context
	}
	for _, list := range [][]string{k.Resources, k.Bases, k.Components} { //nolint:staticcheck // Bases is deprecated but still built
		for _, r := range list {
			p := r
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, r)
			}
			if !fs.Exists(p) {
				if !looksRemote(r) {
					continue // a missing local file: kustomize says so
				}
				return fmt.Errorf("%s lists %q, a remote base: %w (kustomize would fetch it at build time); vendor it into the repository", file, r, ErrRemoteBase)
			}
			if fs.IsDir(p) {
				if err := localOnly(fs, p, seen); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// looksRemote reports whether a resource entry that is not on disk is something
// kustomize would fetch: a URL, a git spec, or a host/path like github.com/org/repo.
func looksRemote(r string) bool {
	if strings.Contains(r, "://") || strings.HasPrefix(r, "git@") || strings.Contains(r, "?ref=") ||
		strings.Contains(r, ".git") || strings.Contains(r, "//") {
		return true
	}
	first, _, _ := strings.Cut(r, "/")
	return first != "." && first != ".." && strings.Contains(first, ".") && strings.Contains(r, "/")
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
