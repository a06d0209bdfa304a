package variables

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tandem-ci/tandem/internal/atomicfile"
)

// ErrOutsideRoot is returned when the file, or a folder on its path, is a symlink that
// leads out of the folder it must stay in.
var ErrOutsideRoot = errors.New("symlink leads outside the folder")

// Result reports one rewrite.
type Result struct {
	File    string `json:"file"`
	Old     string `json:"old"`
	New     string `json:"new"`
	Changed bool   `json:"changed"`
}

type options struct {
	root    string
	scratch bool
}

// Option configures SetFile.
type Option func(*options)

// WithRoot sets the folder a symlinked file must stay inside (default: the file's folder).
func WithRoot(dir string) Option { return func(o *options) { o.root = dir } }

// Scratch says the file is in a throwaway folder (a clone): it is written without
// syncing it to disk (atomicfile.WriteScratch).
func Scratch() Option { return func(o *options) { o.scratch = true } }

// ReadFile returns the IMAGE_TAG held by the file at path.
func ReadFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	v, err := Find(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// SetFile rewrites IMAGE_TAG in the file at path to newTag. The write is atomic (a
// temporary file in the same folder, renamed over the original with its permissions),
// so a failure at any point leaves the original untouched. When the value is already
// newTag it returns the Result with Changed false and an error wrapping ErrUnchanged.
func SetFile(path, newTag string, opts ...Option) (Result, error) {
	o := options{root: filepath.Dir(path)}
	for _, opt := range opts {
		opt(&o)
	}
	res := Result{File: path, New: newTag}
	target, err := Resolve(path, o.root)
	if err != nil {
		return res, err
	}
	info, err := os.Stat(target)
	if err != nil {
		return res, fmt.Errorf("reading %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return res, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := os.ReadFile(target)
	if err != nil {
		return res, fmt.Errorf("reading %s: %w", path, err)
	}
	out, old, err := Set(data, newTag)
	res.Old = old
	if errors.Is(err, ErrUnchanged) {
		return res, fmt.Errorf("%s: %w (%s)", path, err, old)
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", path, err)
	}
	// Root bypasses permission bits, and rename would replace a read-only file anyway:
	// honour the owner's intent explicitly.
	if info.Mode().Perm()&0o200 == 0 {
		return res, fmt.Errorf("%s is read-only (mode %s): make it writable (chmod u+w) to let tandem update %s", path, info.Mode().Perm(), Key)
	}
	write := atomicfile.Write
	if o.scratch {
		write = atomicfile.WriteScratch
	}
	if err := write(target, out, info.Mode().Perm()); err != nil {
		return res, fmt.Errorf("writing %s: %w", path, err)
	}
	res.Changed = true
	return res, nil
}

// Resolve follows symlinks in path (the file or any folder on the way) and checks the
// result stays inside root: a rewrite never lands outside the clone or folder.
func Resolve(path, root string) (string, error) {
	if _, err := os.Lstat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("reading %s: %w: create it with `tandem init` or pass the right file", path, err)
		}
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("resolving symlink %s: %w", path, err)
	}
	rootAbs, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("resolving folder %s: %w", root, err)
	}
	if targetAbs, err := filepath.Abs(target); err == nil {
		target = targetAbs
	}
	if r, err := filepath.Abs(rootAbs); err == nil {
		rootAbs = r
	}
	rel, err := filepath.Rel(rootAbs, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s -> %s: %w %s; replace the link with the file itself", path, target, ErrOutsideRoot, root)
	}
	return target, nil
}

// FindIn returns the YAML file under dir that holds the deployment-variables ConfigMap,
// and its IMAGE_TAG: deployment-variables.yaml when it does, else the first such file in
// lexical order (.git left out); ErrNotFound when none does.
func FindIn(dir string) (file, value string, err error) {
	// The conventional file first: a folder of thousands of manifests is not read.
	conventional := filepath.Join(dir, filepath.Base(DefaultFile))
	if data, rerr := os.ReadFile(conventional); rerr == nil {
		if v, ferr := Find(data); ferr == nil {
			return conventional, v, nil
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == ".git":
			return filepath.SkipDir
		case d.IsDir():
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(p) // follows a symlink, as kustomize does
		if err != nil || !bytes.Contains(data, []byte(ConfigMapName)) {
			return nil
		}
		v, ferr := Find(data)
		switch {
		case ferr == nil:
			file, value = p, v
			return filepath.SkipAll
		case errors.Is(ferr, ErrNotFound) || errors.Is(ferr, ErrNotYAML):
			return nil // another file that merely mentions the name
		}
		return fmt.Errorf("%s: %w", p, ferr)
	})
	if err != nil {
		return "", "", fmt.Errorf("reading %s: %w", dir, err)
	}
	if file == "" {
		return "", "", fmt.Errorf("%s: no file holds ConfigMap %s with data.%s: %w", dir, ConfigMapName, Key, ErrNotFound)
	}
	return file, value, nil
}
