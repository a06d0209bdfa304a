package image

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pushed is one published image.
type Pushed struct {
	Ref    string `json:"ref"`    // repository:tag
	Digest string `json:"digest"` // sha256:…
	// Blob traffic of this push: blobs (config included) and layers uploaded, and blobs
	// mounted from another repository instead of uploaded.
	BlobsUploaded  int `json:"blobsUploaded"`
	LayersUploaded int `json:"layersUploaded"`
	BlobsMounted   int `json:"blobsMounted"`
	// Uncounted: another pusher (the Dagger engine) pushed it; the counts above are unknown.
	Uncounted bool `json:"uncounted,omitempty"`
}

// Result is both images of a release.
type Result struct {
	Tag       string        `json:"tag"`
	Service   Pushed        `json:"service"`
	Migration Pushed        `json:"migration"`
	Duration  time.Duration `json:"duration"`
}

type publishOptions struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	insecure  bool
}

// PublishOption configures Publish.
type PublishOption func(*publishOptions)

// WithKeychain sets where credentials come from (default: Keychain(Credentials{}, nil)).
func WithKeychain(k authn.Keychain) PublishOption { return func(o *publishOptions) { o.keychain = k } }

// WithTransport sets the HTTP transport (e.g. for a test registry).
func WithTransport(t http.RoundTripper) PublishOption {
	return func(o *publishOptions) { o.transport = t }
}

// WithInsecure allows plain-HTTP registries (localhost ones are allowed anyway).
func WithInsecure() PublishOption { return func(o *publishOptions) { o.insecure = true } }

// Publish pushes the service image to serviceRepo:tag, then the migration image to
// migrationRepo:tag. The migration image is rebased on the pushed service image so its
// layers are mounted from (or found in) the service repository instead of uploaded again.
func Publish(ctx context.Context, b Built, serviceRepo, migrationRepo, tag string, opts ...PublishOption) (Result, error) {
	start := time.Now()
	o := newPublishOptions(opts)
	nameOpts := o.nameOptions()
	svcRef, err := name.NewTag(serviceRepo+":"+tag, nameOpts...)
	if err != nil {
		return Result{}, fmt.Errorf("parsing service image %s:%s: %w", serviceRepo, tag, err)
	}
	migRef, err := name.NewTag(migrationRepo+":"+tag, nameOpts...)
	if err != nil {
		return Result{}, fmt.Errorf("parsing migration image %s:%s: %w", migrationRepo, tag, err)
	}
	res := Result{Tag: tag}
	if res.Service, err = push(ctx, b.Service, svcRef, o); err != nil {
		return res, err
	}
	// Reuse the pushed layers: a remote image's layers are MountableLayers.
	remoteSvc, err := remote.Image(svcRef, remoteOpts(ctx, o, nil)...)
	if err != nil {
		return res, fmt.Errorf("reading back %s: %w", svcRef, err)
	}
	migCfg, err := b.Migration.ConfigFile()
	if err != nil {
		return res, fmt.Errorf("reading migration config: %w", err)
	}
	mig, err := MigrationOf(remoteSvc, migCfg.Config.Entrypoint)
	if err != nil {
		return res, err
	}
	if res.Migration, err = push(ctx, mig, migRef, o); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// Push publishes one image as ref (repository:tag).
func Push(ctx context.Context, img v1.Image, ref string, opts ...PublishOption) (Pushed, error) {
	o := newPublishOptions(opts)
	nameOpts := o.nameOptions()
	t, err := name.NewTag(ref, nameOpts...)
	if err != nil {
		return Pushed{}, fmt.Errorf("parsing image reference %s: %w", ref, err)
	}
	return push(ctx, img, t, o)
}

// nameOptions parse references for the options' registry (plain HTTP when insecure).
func (o publishOptions) nameOptions() []name.Option {
	if o.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func newPublishOptions(opts []PublishOption) publishOptions {
	o := publishOptions{transport: remote.DefaultTransport}
	for _, opt := range opts {
		opt(&o)
	}
	if o.keychain == nil {
		o.keychain = Keychain(Credentials{}, nil)
	}
	return o
}

func push(ctx context.Context, img v1.Image, ref name.Tag, o publishOptions) (Pushed, error) {
	c := &countingTransport{next: o.transport}
	if err := remote.Write(ref, img, remoteOpts(ctx, o, c)...); err != nil {
		return Pushed{}, fmt.Errorf("pushing image %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return Pushed{}, fmt.Errorf("computing digest of %s: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return Pushed{}, fmt.Errorf("listing layers of %s: %w", ref, err)
	}
	p := Pushed{Ref: ref.String(), Digest: d.String(), BlobsMounted: int(c.mounted.Load())}
	c.mu.Lock()
	defer c.mu.Unlock()
	p.BlobsUploaded = len(c.uploaded)
	for _, l := range layers {
		if ld, err := l.Digest(); err == nil && c.uploaded[ld.String()] {
			p.LayersUploaded++
		}
	}
	return p, nil
}

func remoteOpts(ctx context.Context, o publishOptions, t http.RoundTripper) []remote.Option {
	if t == nil {
		t = o.transport
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(o.keychain), remote.WithTransport(t)}
}

// countingTransport counts blob uploads (a completing PUT with ?digest=) and mounts
// (a POST with ?mount= answered 201) so a release can show what it reused.
type countingTransport struct {
	next     http.RoundTripper
	mounted  atomic.Int32
	mu       sync.Mutex
	uploaded map[string]bool
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil || !strings.Contains(r.URL.Path, "/blobs/uploads") {
		return resp, err
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && q.Get("digest") != "" && resp.StatusCode == http.StatusCreated:
		c.mu.Lock()
		if c.uploaded == nil {
			c.uploaded = map[string]bool{}
		}
		c.uploaded[q.Get("digest")] = true
		c.mu.Unlock()
	case r.Method == http.MethodPost && q.Get("mount") != "" && resp.StatusCode == http.StatusCreated:
		c.mounted.Add(1)
	}
	return resp, nil
}
