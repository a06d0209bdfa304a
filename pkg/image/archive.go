package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tandem-ci/tandem/internal/tarx"
)

// FromArchive reads the one image of an image archive: an OCI image layout packed as a
// tar (index.json, what Dagger's Container.asTarball and `docker save` of recent Docker
// write) or a docker-save tar (manifest.json). The layout is unpacked into a temporary
// folder removed by cleanup, which the caller calls once the image is pushed.
func FromArchive(path string) (img v1.Image, cleanup func(), err error) {
	cleanup = func() {}
	names, err := tarNames(path)
	if err != nil {
		return nil, cleanup, err
	}
	if !names["index.json"] {
		if !names["manifest.json"] {
			return nil, cleanup, fmt.Errorf("image archive %s: neither an OCI layout (index.json) nor a docker-save tar (manifest.json)", path)
		}
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			return nil, cleanup, fmt.Errorf("reading image archive %s: %w", path, err)
		}
		return img, cleanup, nil
	}
	dir, err := os.MkdirTemp("", "tandem-image-")
	if err != nil {
		return nil, cleanup, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := untarTo(path, dir); err != nil {
		return nil, cleanup, fmt.Errorf("unpacking image archive %s: %w", path, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, cleanup, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, cleanup, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	if len(m.Manifests) != 1 {
		return nil, cleanup, fmt.Errorf("image archive %s holds %d images, want 1", path, len(m.Manifests))
	}
	img, err = idx.Image(m.Manifests[0].Digest)
	if err != nil {
		return nil, cleanup, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	return img, cleanup, nil
}

func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading image archive %s: %w", path, err)
		}
		names[strings.TrimPrefix(h.Name, "./")] = true
	}
}

// untarTo unpacks the regular files and folders of the tar at path into dir, refusing
// names that leave it.
func untarTo(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			if name == "." {
				continue
			}
			return fmt.Errorf("entry %q leaves the archive", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := tarx.WriteFile(target, tr, 0o644); err != nil {
				return err
			}
		}
	}
}

// Redirect returns a transport that sends requests for host (host:port, as image
// references name it) to endpoint instead, over plain HTTP, and everything else to next
// (nil: http.DefaultTransport). A registry reached through a tunnel (a Dagger service
// bound to a laptop's local registry) keeps its name in references and annotations.
func Redirect(host, endpoint string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &redirect{host: host, endpoint: endpoint, next: next}
}

type redirect struct {
	host, endpoint string
	next           http.RoundTripper
}

func (r *redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != r.host {
		return r.next.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", r.endpoint, r.endpoint
	return r.next.RoundTrip(out)
}

// Save pulls ref and writes it to path as an OCI image layout packed in a tar, the
// archive FromArchive and container engines (Dagger's Container.import) read.
func Save(ctx context.Context, ref, path string, opts ...PublishOption) error {
	o := newPublishOptions(opts)
	r, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return fmt.Errorf("parsing image reference %s: %w", ref, err)
	}
	img, err := remote.Image(r, remoteOpts(ctx, o, nil)...)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	dir, err := os.MkdirTemp("", "tandem-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return tarTo(dir, path)
}

// tarTo packs the files under dir into a tar at path.
func tarTo(dir, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
