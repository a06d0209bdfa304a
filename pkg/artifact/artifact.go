package artifact

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
)

// ReproducibleCreated is the creation time flux's --reproducible uses.
const ReproducibleCreated = "1970-01-01T00:00:00Z"

// DefaultIgnore is what `flux push artifact` leaves out by default.
var DefaultIgnore = []string{".git/", ".gitignore", ".gitmodules", ".gitattributes", "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip"}

var (
	// ErrSymlinkEscapes is returned when the folder holds a symlink leading outside it.
	ErrSymlinkEscapes = errors.New("symlink leads outside the folder")
	// ErrNoFolder is returned when the folder to push does not exist.
	ErrNoFolder = errors.New("manifests folder not found")
	// ErrNoKustomization is returned when the folder holds no kustomization file: with
	// Flux's prune, an empty artifact deletes the app.
	ErrNoKustomization = errors.New("no kustomization.yaml in the folder")
)

// Result describes a pushed (or already present) artifact.
type Result struct {
	URL       string   `json:"url"`    // oci://host/repo:tag
	Digest    string   `json:"digest"` // host/repo@sha256:…
	Revision  string   `json:"revision"`
	Source    string   `json:"source,omitempty"`
	ExtraTags []string `json:"extraTags,omitempty"`
	Unchanged bool     `json:"unchanged"` // identical artifact already at the tag; nothing pushed
	// ImageTagFrom is the IMAGE_TAG the folder held when the artifact was given the
	// release tag instead (see release.FluxArtifacts); empty when they agreed.
	ImageTagFrom string        `json:"imageTagFrom,omitempty"`
	Duration     time.Duration `json:"duration"`
}

type options struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	ignore    []string
	source    string
	revision  string
	extraTags []string
	insecure  bool
	force     bool
}

// Option configures Push.
type Option func(*options)

// WithKeychain sets where registry credentials come from (default: Docker config).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithTransport sets the HTTP transport.
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

// WithIgnore adds ignore patterns (.gitignore syntax) to DefaultIgnore.
func WithIgnore(patterns ...string) Option {
	return func(o *options) { o.ignore = append(o.ignore, patterns...) }
}

// WithSource sets the source annotation (the repository URL, without credentials).
func WithSource(url string) Option { return func(o *options) { o.source = url } }

// WithRevision sets the revision annotation, e.g. Revision("main", sha).
func WithRevision(rev string) Option { return func(o *options) { o.revision = rev } }

// WithExtraTags also tags the artifact with these tags (e.g. latest).
func WithExtraTags(tags ...string) Option {
	return func(o *options) { o.extraTags = append(o.extraTags, tags...) }
}

// WithInsecure allows plain-HTTP registries.
func WithInsecure() Option { return func(o *options) { o.insecure = true } }

// WithForce pushes even when an identical artifact is already at the tag.
func WithForce() Option { return func(o *options) { o.force = true } }

// Revision formats a revision the way Flux does: <branch>@sha1:<commit>.
// Without a branch (a detached checkout) it is sha1:<commit>.
func Revision(branch, commit string) string {
	if branch == "" {
		return "sha1:" + commit
	}
	return branch + "@sha1:" + commit
}

// ValidateTag checks t is a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}).
func ValidateTag(t string) error {
	if _, err := name.NewTag("example.com/x:"+t, name.StrictValidation); err != nil || t == "" {
		return fmt.Errorf("not a valid OCI tag: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'")
	}
	return nil
}

// URL returns oci://<repository>:<tag>.
func URL(repository, tag string) string {
	return oci.OCIRepositoryPrefix + strings.TrimPrefix(repository, oci.OCIRepositoryPrefix) + ":" + tag
}

// Push uploads dir as a Flux artifact to url (oci://host/repo:tag).
func Push(ctx context.Context, url, dir string, opts ...Option) (Result, error) {
	start := time.Now()
	o := options{keychain: authn.DefaultKeychain, transport: http.DefaultTransport, ignore: append([]string{}, DefaultIgnore...)}
	for _, opt := range opts {
		opt(&o)
	}
	res := Result{URL: url, Revision: o.revision, Source: o.source}
	ref, err := oci.ParseArtifactURL(url)
	if err != nil {
		return res, fmt.Errorf("parsing artifact URL %s: %w", url, err)
	}
	for _, t := range o.extraTags {
		if err := ValidateTag(t); err != nil {
			return res, fmt.Errorf("extra tag %q: %w", t, err)
		}
	}
	if err := CheckFolder(dir); err != nil {
		return res, err
	}
	// Flux's tar drops symlinks: ship what they point at (inside the folder), so the
	// artifact builds exactly as the folder does.
	dir, cleanup, err := materialize(dir)
	if err != nil {
		return res, err
	}
	defer cleanup()
	client := oci.NewClient(o.craneOptions(ctx))
	meta := oci.Metadata{Created: ReproducibleCreated, Source: o.source, Revision: o.revision}
	img, cleanupImg, err := assemble(client, dir, o.ignorePaths(), meta)
	defer cleanupImg()
	if err != nil {
		return res, err
	}
	d, err := img.Digest()
	if err != nil {
		return res, err
	}
	r, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return res, fmt.Errorf("parsing artifact URL %s: %w", url, err)
	}
	digest := r.Context().Digest(d.String()).String()
	// The artifact is reproducible: the same digest in the registry is the same artifact
	// (one HEAD request, nothing pulled).
	if !o.force {
		if have, err := crane.Digest(ref, o.craneOptions(ctx)...); err == nil && have == d.String() {
			res.Digest, res.Unchanged = digest, true
			res.Duration = time.Since(start)
			return res, nil
		}
	}
	if err := crane.Push(img, ref, o.craneOptions(ctx)...); err != nil {
		return res, fmt.Errorf("pushing artifact %s: %w", url, err)
	}
	res.Digest = digest
	for _, t := range o.extraTags {
		if _, err := client.Tag(ctx, ref, t); err != nil {
			return res, fmt.Errorf("tagging artifact %s as %s: %w", url, t, err)
		}
		res.ExtraTags = append(res.ExtraTags, t)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// neverShipped are left out whatever the ignore list says: a checkout's .git holds the
// origin URL with its token. Listed last, they win over any "!" pattern before them.
var neverShipped = []string{".git/", ".git"}

// ignorePaths is the ignore list of a push: flux's defaults, the caller's, then neverShipped.
func (o options) ignorePaths() []string {
	return append(append([]string{}, o.ignore...), neverShipped...)
}

func (o options) craneOptions(ctx context.Context) []crane.Option {
	opts := []crane.Option{crane.WithContext(ctx), crane.WithAuthFromKeychain(o.keychain), crane.WithTransport(o.transport)}
	if o.insecure {
		opts = append(opts, crane.Insecure)
	}
	return opts
}

// kustomizationFiles are the names kustomize recognises.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// CheckFolder refuses a missing folder, one without a kustomization, and symlinks that
// lead out of it.
func CheckFolder(dir string) error {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("pushing %s: %w: run `tandem init` or pass the folder holding kustomization.yaml", dir, ErrNoFolder)
	}
	found := false
	for _, k := range kustomizationFiles {
		if fi, err := os.Stat(filepath.Join(dir, k)); err == nil && fi.Mode().IsRegular() {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("pushing %s: %w: an artifact without one would make Flux prune the app; pass the folder holding kustomization.yaml (tandem init writes one)", dir, ErrNoKustomization)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", dir, err)
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("resolving symlink %s: %w", p, err)
		}
		if rel, err := filepath.Rel(root, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("pushing %s: %s -> %s: %w; copy the file into the folder instead", dir, p, target, ErrSymlinkEscapes)
		}
		return nil
	})
}

// materialize returns dir itself when it holds no symlink, else a temporary copy with
// every symlink (already checked to stay inside) replaced by what it points at.
func materialize(dir string) (string, func(), error) {
	none := func() {}
	links := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink != 0 {
			links = true
			return filepath.SkipAll
		}
		return err
	})
	if !links {
		return dir, none, nil
	}
	tmp, err := os.MkdirTemp("", "tandem-artifact-")
	if err != nil {
		return "", none, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	if err := Copy(dir, tmp); err != nil {
		cleanup()
		return "", none, fmt.Errorf("copying %s with its symlinks resolved: %w", dir, err)
	}
	return tmp, cleanup, nil
}

// Copy copies the folder src into dst (an existing folder) as a push ships it: symlinks
// replaced by what they point at, .git left out.
func Copy(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == ".git" {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		info, err := os.Stat(from) // follows symlinks
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			if err := Copy(from, to); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			b, err := os.ReadFile(from)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, b, info.Mode().Perm()); err != nil {
				return err
			}
		}
	}
	return nil
}
