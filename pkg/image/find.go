package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNotFound is returned by Find when an image is not in the registry.
var ErrNotFound = errors.New("image not found")

// IsNotFound reports whether err is a registry's "no such manifest" answer (HTTP 404).
func IsNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// Find checks that both images of a release exist, built elsewhere (kaniko, Docker,
// Dagger, another toolchain), and returns them with their digests. Nothing is pushed.
func Find(ctx context.Context, serviceRepo, migrationRepo, tag string, opts ...PublishOption) (Result, error) {
	start := time.Now()
	o := newPublishOptions(opts)
	nameOpts := o.nameOptions()
	res := Result{Tag: tag}
	var errs []error
	for _, img := range []struct {
		repo string
		out  *Pushed
	}{{serviceRepo, &res.Service}, {migrationRepo, &res.Migration}} {
		ref, err := name.NewTag(img.repo+":"+tag, nameOpts...)
		if err != nil {
			errs = append(errs, fmt.Errorf("parsing image %s:%s: %w", img.repo, tag, err))
			continue
		}
		desc, err := remote.Head(ref, remoteOpts(ctx, o, nil)...)
		if err != nil {
			if IsNotFound(err) {
				err = fmt.Errorf("%w: push it first (this release was told the images are prebuilt)", ErrNotFound)
			}
			errs = append(errs, fmt.Errorf("finding image %s: %w", ref, err))
			continue
		}
		*img.out = Pushed{Ref: ref.String(), Digest: desc.Digest.String()}
	}
	res.Duration = time.Since(start)
	return res, errors.Join(errs...)
}

// Digest is the digest the registry gives ref (repository:tag): one HEAD request.
func Digest(ctx context.Context, ref string, opts ...PublishOption) (string, error) {
	o := newPublishOptions(opts)
	r, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return "", fmt.Errorf("parsing image reference %s: %w", ref, err)
	}
	desc, err := remote.Head(r, remoteOpts(ctx, o, nil)...)
	if err != nil {
		return "", fmt.Errorf("finding image %s: %w", ref, err)
	}
	return desc.Digest.String(), nil
}
