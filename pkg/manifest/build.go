package manifest

import (
	"context"
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
// Every remote reference is refused (ErrRemoteBase), and the build returns ctx's error
// as soon as ctx ends (kustomize itself takes no context).
func Build(ctx context.Context, dir string) (resmap.ResMap, error) {
	return BuildFS(ctx, filesys.MakeFsOnDisk(), dir)
}

// BuildFS is Build over any kustomize file system (e.g. an in-memory one).
func BuildFS(ctx context.Context, fs filesys.FileSystem, dir string) (resmap.ResMap, error) {
	if err := localOnly(fs, dir, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("building kustomization %s: %w", dir, err)
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	m, err := untilDone(ctx, func() (resmap.ResMap, error) { return krusty.MakeKustomizer(opts).Run(fs, dir) })
	if err != nil {
		return nil, fmt.Errorf("building kustomization %s: %w", dir, err)
	}
	return m, nil
}

// untilDone runs fn and returns its result, or ctx's error as soon as ctx ends; fn then
// finishes in the background (its result dropped). With remote references refused, only
// a file that never ends (a FIFO, a stalled network mount) can keep it running.
func untilDone[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("stopped: %w", context.Cause(ctx))
	}
}

// localOnly checks that every path a kustomization names, in every field kustomize reads
// a path from, and in the local kustomizations it includes, is local: kustomize would
// fetch a URL over HTTP and clone a git reference at build time (kustomize-controller's
// --no-remote-bases refuses the same).
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
	for _, e := range pathEntries(&k) {
		if e.inline && strings.Contains(e.value, "\n") {
			continue // an inline patch or plugin configuration, not a path
		}
		p := e.value
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		exists := fs.Exists(p)
		if strings.Contains(e.value, "://") || (!exists && looksRemote(e.value)) {
			return fmt.Errorf("%s: %s lists %q, a remote reference: %w (kustomize would fetch it at build time); vendor it into the repository", file, e.field, e.value, ErrRemoteBase)
		}
		if exists && e.dir && fs.IsDir(p) {
			if err := localOnly(fs, p, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// pathEntry is one path a kustomization names: in which field, and whether it may be a
// kustomization folder (to check recursively) or inline YAML (not a path).
type pathEntry struct {
	field, value string
	dir, inline  bool
}

// pathEntries lists every path of k that kustomize may load.
func pathEntries(k *types.Kustomization) []pathEntry {
	var out []pathEntry
	add := func(field string, dir, inline bool, values ...string) {
		for _, v := range values {
			if v != "" {
				out = append(out, pathEntry{field, v, dir, inline})
			}
		}
	}
	add("resources", true, false, k.Resources...)
	add("bases", true, false, k.Bases...) //nolint:staticcheck // deprecated, still built
	add("components", true, false, k.Components...)
	add("crds", false, false, k.Crds...)
	add("configurations", false, false, k.Configurations...)
	add("generators", true, true, k.Generators...)
	add("transformers", true, true, k.Transformers...)
	add("validators", true, true, k.Validators...)
	add("openapi.path", false, false, k.OpenAPI["path"])
	for _, p := range k.Patches {
		add("patches[].path", false, false, p.Path)
	}
	for _, p := range k.PatchesJson6902 { //nolint:staticcheck // deprecated, still built
		add("patchesJson6902[].path", false, false, p.Path)
	}
	for _, p := range k.PatchesStrategicMerge { //nolint:staticcheck // deprecated, still built
		add("patchesStrategicMerge", false, true, string(p))
	}
	for _, r := range k.Replacements {
		add("replacements[].path", false, false, r.Path)
	}
	gens := append(append([]types.ConfigMapArgs{}, k.ConfigMapGenerator...), secretsAsConfigMaps(k.SecretGenerator)...)
	for _, g := range gens {
		for _, f := range g.FileSources {
			if _, path, ok := strings.Cut(f, "="); ok {
				f = path
			}
			add("configMapGenerator/secretGenerator files", false, false, f)
		}
		add("configMapGenerator/secretGenerator envs", false, false, g.EnvSources...)
		add("configMapGenerator/secretGenerator env", false, false, g.EnvSource) //nolint:staticcheck // deprecated, still read
	}
	return out
}

func secretsAsConfigMaps(s []types.SecretArgs) []types.ConfigMapArgs {
	out := make([]types.ConfigMapArgs, len(s))
	for i, a := range s {
		out[i] = types.ConfigMapArgs{GeneratorArgs: a.GeneratorArgs}
	}
	return out
}

// looksRemote reports whether a path that is not on disk is something kustomize would
// fetch: a git spec, or a host/path like github.com/org/repo.
func looksRemote(r string) bool {
	if strings.HasPrefix(r, "git@") || strings.Contains(r, "?ref=") ||
		strings.Contains(r, ".git") || strings.Contains(r, "//") {
		return true
	}
	first, _, _ := strings.Cut(r, "/")
	return first != "." && first != ".." && strings.Contains(first, ".") && strings.Contains(r, "/")
}

// BuildYAML is Build, rendered as a multi-document YAML stream like `kustomize build`.
func BuildYAML(ctx context.Context, dir string) ([]byte, error) {
	m, err := Build(ctx, dir)
	if err != nil {
		return nil, err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("encoding build of %s: %w", dir, err)
	}
	return out, nil
}
