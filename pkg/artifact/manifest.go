package artifact

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/fluxcd/pkg/oci"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func annotations(manifest []byte) map[string]string {
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(manifest, &m) != nil {
		return nil
	}
	return m.Annotations
}

// Info is what the registry holds for one artifact tag.
type Info struct {
	Digest   string `json:"digest"` // repository@sha256:…
	Source   string `json:"source,omitempty"`
	Revision string `json:"revision,omitempty"`
	Created  string `json:"created,omitempty"`
}

// Describe reads the artifact at url (oci://repository:tag, or repository:tag) from the
// registry: its digest and Flux's source, revision and created annotations. One
// manifest request; nothing is pulled.
func Describe(ctx context.Context, url string, opts ...Option) (Info, error) {
	o := options{keychain: authn.DefaultKeychain, transport: http.DefaultTransport}
	for _, opt := range opts {
		opt(&o)
	}
	ref := strings.TrimPrefix(url, "oci://")
	r, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return Info{}, fmt.Errorf("parsing artifact reference %s: %w", ref, err)
	}
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(o.keychain), remote.WithTransport(o.transport))
	if err != nil {
		return Info{}, fmt.Errorf("reading artifact %s: %w", ref, err)
	}
	meta := oci.MetadataFromAnnotations(annotations(desc.Manifest))
	return Info{Digest: r.Context().Digest(desc.Digest.String()).String(), Source: meta.Source, Revision: meta.Revision, Created: meta.Created}, nil
}

func (o options) nameOptions() []name.Option {
	if o.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}
