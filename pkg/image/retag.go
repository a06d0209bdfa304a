package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrTagTaken is returned by Retag when the new tag already names other images.
var ErrTagTaken = errors.New("tag already names other images")

// Retag gives both images of release from the tag to, in the registry: the manifests
// stay where they are (nothing is pulled or built, no blob is uploaded) and to names the
// same digests. Both images are found before either tag is written; a to already naming
// the same digests is left as it is, one naming other digests is refused (ErrTagTaken).
// The result carries the digests under to.
func Retag(ctx context.Context, serviceRepo, migrationRepo, from, to string, opts ...PublishOption) (Result, error) {
	start := time.Now()
	o := newPublishOptions(opts)
	nameOpts := o.nameOptions()
	res := Result{Tag: to}
	type pair struct {
		repo string
		out  *Pushed
		desc *remote.Descriptor
		from name.Tag
		to   name.Tag
	}
	pairs := []*pair{{repo: serviceRepo, out: &res.Service}, {repo: migrationRepo, out: &res.Migration}}
	var errs []error
	for _, p := range pairs {
		src, err := name.NewTag(p.repo+":"+from, nameOpts...)
		p.from = src
		if err != nil {
			errs = append(errs, fmt.Errorf("parsing image %s:%s: %w", p.repo, from, err))
			continue
		}
		if p.to, err = name.NewTag(p.repo+":"+to, nameOpts...); err != nil {
			errs = append(errs, fmt.Errorf("parsing image %s:%s: %w", p.repo, to, err))
			continue
		}
		if p.desc, err = remote.Get(src, remoteOpts(ctx, o, nil)...); err != nil {
			if IsNotFound(err) {
				err = fmt.Errorf("%w (deleted by a cleanup policy? tag it again, or pick another release)", ErrNotFound)
			}
			errs = append(errs, fmt.Errorf("finding image %s: %w", src, err))
			continue
		}
		if have, err := remote.Head(p.to, remoteOpts(ctx, o, nil)...); err == nil && have.Digest != p.desc.Digest {
			errs = append(errs, fmt.Errorf("tagging %s as %s: %w (%s, not %s): pick a new tag", src, p.to, ErrTagTaken, have.Digest, p.desc.Digest))
		} else if err != nil && !IsNotFound(err) {
			errs = append(errs, fmt.Errorf("checking image %s: %w", p.to, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		res.Duration = time.Since(start)
		return res, err
	}
	for _, p := range pairs {
		if err := remote.Tag(p.to, p.desc, remoteOpts(ctx, o, nil)...); err != nil {
			res.Duration = time.Since(start)
			return res, fmt.Errorf("tagging %s as %s: %w", p.from, p.to, err)
		}
		*p.out = Pushed{Ref: p.to.String(), Digest: p.desc.Digest.String()}
	}
	res.Duration = time.Since(start)
	return res, nil
}
